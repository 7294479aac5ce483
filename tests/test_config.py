"""Configuration: the built-in default, broken files and their exact messages."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from agent.config import default_config, default_text, load_config, parse_config
from agent.errors import ConfigError, EdgetwinError
from drivers.registry import kinds
from drivers.sim.plant import SIGNALS

GOOD_DEVICE = """
[[devices]]
name = "plant"
kind = "sim"
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.toml")
    return info.value.problems


def test_default_config_is_valid_and_immutable() -> None:
    cfg = default_config()
    assert {p.name for p in cfg.points} >= {"cabinet_temp_c", "power_w"}
    assert cfg.point("cabinet_temp_c").unit == "°C"
    with pytest.raises(AttributeError):
        cfg.points[0].period_s = 5  # type: ignore[misc]


def test_init_template_is_the_default() -> None:
    assert parse_config(default_text()) == parse_config(default_text())
    assert "# " in default_text()


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_config("x = ", "site.toml")
    assert issubclass(ConfigError, EdgetwinError)


def test_unknown_key() -> None:
    assert problems(GOOD_DEVICE + "[store]\ncommit_every = 5\n") == [
        "site.toml: store.commit_every: unknown key (allowed: commit_interval_s, "
        "max_age_days, max_size_mb, path, retention_interval_s)"
    ]


def test_wrong_type() -> None:
    text = (
        GOOD_DEVICE
        + '[[points]]\nname = "t"\ndevice = "plant"\naddress = "cabinet_temp_c"\nperiod_s = "fast"\n'
    )
    assert problems(text) == [
        "site.toml: points[0].period_s: expected a number, got string 'fast'"
    ]


def test_duplicate_point() -> None:
    point = '[[points]]\nname = "t"\ndevice = "plant"\naddress = "cabinet_temp_c"\n'
    assert problems(GOOD_DEVICE + point + point) == [
        "site.toml: points[1].name: 't' is defined twice (first at points[0])"
    ]


def test_unknown_device_reference() -> None:
    text = GOOD_DEVICE + '[[points]]\nname = "t"\ndevice = "meter"\naddress = 3\n'
    assert problems(text) == [
        "site.toml: points[0].device: 'meter' is not a configured device (known: plant)"
    ]


def test_period_outside_what_the_device_allows() -> None:
    text = (
        GOOD_DEVICE
        + '[[points]]\nname = "t"\ndevice = "plant"\naddress = "cabinet_temp_c"\nperiod_s = 0.005\n'
    )
    assert problems(text) == [
        "site.toml: points[0].period_s: 0.005 s is below the 0.01 s that device "
        "'plant' (sim) allows"
    ]


def test_out_of_range_number() -> None:
    assert problems(GOOD_DEVICE + "[store]\nmax_size_mb = 0\n") == [
        "site.toml: store.max_size_mb: 0 is out of range (allowed 1 to 1e+06 MB)"
    ]


def test_every_problem_in_one_run() -> None:
    text = """
bogus = 1
[store]
max_size_mb = -5
[[devices]]
name = "plant"
kind = "sim"
[[devices]]
name = "meter"
kind = "modbus-over-carrier-pigeon"
[[points]]
name = "t"
device = "plant"
address = "cabinet_temp_c"
[[points]]
name = "t"
device = "nowhere"
[[points]]
name = "Bad Name"
device = "plant"
address = "no_such_signal"
valid_min = 10
valid_max = 0
[[actuators]]
name = "fan"
device = "plant"
address = "fan"
safe_value = 2
"""
    got = problems(text)
    assert got == [
        "site.toml: store.max_size_mb: -5 is out of range (allowed 1 to 1e+06 MB)",
        "site.toml: devices[1].kind: 'modbus-over-carrier-pigeon' is not one of "
        + ", ".join(sorted(kinds())),
        "site.toml: points[1].device: 'nowhere' is not a configured device (known: plant)",
        "site.toml: points[2].name: 'Bad Name' is not a valid name (lower case "
        "letters, digits and '_', starting with a letter)",
        "site.toml: points[2].valid_max: 0 must be above valid_min 10",
        "site.toml: points[2].address: 'no_such_signal' is not one of "
        + ", ".join(SIGNALS),
        "site.toml: actuators[0].safe_value: 2 is outside the actuator's range (0 to 1)",
        "site.toml: bogus: unknown key (allowed: actuators, agent, control, devices, "
        "model, points, site, store, twin, uplink)",
        "site.toml: points[1].name: 't' is defined twice (first at points[0])",
    ]


def test_not_toml_names_the_file_and_line() -> None:
    got = problems("[store\n")
    assert len(got) == 1
    assert got[0].startswith("site.toml: not valid TOML: ")
    assert "line 1" in got[0]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.toml")
    assert info.value.problems == [f"{tmp_path / 'nope.toml'}: no such file"]


def test_infinite_number_rejected() -> None:
    text = (
        GOOD_DEVICE
        + '[[points]]\nname = "t"\ndevice = "plant"\naddress = "cabinet_temp_c"\nscale = inf\n'
    )
    assert problems(text) == ["site.toml: points[0].scale: inf is not a finite number"]


def test_valid_range_defaults_to_unbounded() -> None:
    cfg = parse_config(
        GOOD_DEVICE + '[[points]]\nname = "t"\ndevice = "plant"\naddress = "power_w"\n'
    )
    p = cfg.point("t")
    assert p.valid_min == -math.inf and p.valid_max == math.inf
    assert cfg.text_hash and len(cfg.text_hash) == 16


def test_check_command_reports_all_problems(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.toml"
    bad.write_text(
        GOOD_DEVICE
        + '[[points]]\nname = "t"\ndevice = "x"\n[store]\nmax_age_days = "old"\n'
    )
    res = cli("check", str(bad))
    assert res.returncode == 2
    assert res.stderr.splitlines() == [
        f"edgetwin: {bad}: store.max_age_days: expected a number, got string 'old'",
        f"edgetwin: {bad}: points[0].device: 'x' is not a configured device (known: plant)",
    ]


def test_init_then_check(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "etc" / "edgetwin.toml"
    res = cli("init", str(target))
    assert res.returncode == 0, res.stderr
    again = cli("init", str(target))
    assert again.returncode == 2
    assert "already exists (use --force to overwrite)" in again.stderr
    res = cli("check", str(target))
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == f"{target}: OK"
    assert "cabinet_temp_c" in res.stdout


def test_twin_names_must_be_configured() -> None:
    text = default_text().replace(
        'temperature = "cabinet_temp_c"', 'temperature = "cabinet_t"'
    )
    got = problems(text)
    assert len(got) == 1
    assert got[0].startswith(
        "site.toml: twin.thermal.temperature: 'cabinet_t' is not a configured "
        "point (known: "
    )


def test_uplink_needs_a_site() -> None:
    assert problems("[uplink]\nenabled = true\n") == [
        "site.toml: site: is required with uplink.enabled (site and device name "
        "the MQTT topics; the built-in demo-site/cabinet-01 would mix sites up)"
    ]
