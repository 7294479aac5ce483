"""The [control] section and the actuators' envelope tables: values and clear errors."""

from __future__ import annotations

import math

import pytest

from agent.config import parse_config
from agent.config.control import EnvelopeConfig, HysteresisConfig, Interlock
from agent.errors import ConfigError

BASE = """
[[devices]]
name = "plant"
kind = "sim"

[[points]]
name = "cabinet_temp_c"
device = "plant"
address = "cabinet_temp_c"

[[actuators]]
name = "heater"
device = "plant"
address = "heater"
{envelope}

[control]
enabled = true
{control}
"""


def _parse(envelope: str = "", control: str = ""):
    return parse_config(BASE.format(envelope=envelope, control=control), "site.toml")


def test_envelope_and_policy_are_parsed() -> None:
    cfg = _parse(
        "[actuators.envelope]\nmin_on_s = 60\nmax_switches_per_h = 4\n"
        'interlocks = [{ point = "cabinet_temp_c", below = 60 }]',
        '[control.policies.heater]\nkind = "hysteresis"\npoint = "cabinet_temp_c"\n'
        "on_at = 16\noff_at = 18",
    )
    env = cfg.actuator("heater").envelope
    assert env == EnvelopeConfig(
        min_on_s=60,
        max_switches_per_h=4,
        interlocks=(Interlock("cabinet_temp_c", -math.inf, 60),),
    )
    assert cfg.control.policy("heater") == HysteresisConfig("cabinet_temp_c", 16, 18)


def test_every_problem_is_one_clear_line() -> None:
    with pytest.raises(ConfigError) as exc:
        _parse(
            "[actuators.envelope]\nmin = 2\nmin_on_s = -1\nspeed = 3\n"
            'interlocks = [{ point = "tank_level_pct", above = 20 }]',
            '[control.policies.pump]\nkind = "pid"\npoint = "level"\nkp = 1\nsetpoint = 2',
        )
    assert exc.value.problems == [
        "site.toml: actuators[0].envelope.min: 2 is outside the actuator's range (0 to 1)",
        "site.toml: actuators[0].envelope.min_on_s: -1 is out of range (allowed 0 to 86400 s)",
        "site.toml: actuators[0].envelope.speed: unknown key (allowed: interlocks, "
        "max, max_input_age_s, max_rate_per_s, max_switches_per_h, min, min_off_s, "
        "min_on_s, readback_tolerance)",
        "site.toml: control.policies.pump: 'pump' is not a configured actuator (known: heater)",
        "site.toml: control.policies.pump.point: 'level' is not a configured point "
        "(known: cabinet_temp_c)",
        "site.toml: actuators[0].envelope.interlocks[0].point: 'tank_level_pct' is not "
        "a configured point (known: cabinet_temp_c)",
    ]
