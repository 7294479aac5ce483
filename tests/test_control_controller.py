"""The controller stage: policies, overrides, fail-safe on lost inputs, explanations.

The controller, ``Actuators`` and its envelope run for real against the
simulated plant's device; the frames carry readings made in the test so
that each case is exact. Times start at 2026-01-01 00:00 UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from agent.actuators import Actuators
from agent.cli.main import main
from agent.clock import SimClock
from agent.config import Config, parse_config
from agent.config.control import PidConfig, PredictiveConfig
from agent.control.controller import Controller
from agent.control.explain import explain
from agent.errors import CommandError, EdgetwinError
from agent.pipeline import Frame
from agent.reading import Quality, Reading
from agent.sampler import DeviceWorker
from agent.twin.forecast import Forecast
from drivers.base import DriverContext
from drivers.registry import kinds
from drivers.sim.plant import PlantParams

CONFIG = """
[agent]
state_dir = "{state_dir}"

[[devices]]
name = "plant"
kind = "sim"

[[points]]
name = "cabinet_temp_c"
device = "plant"
address = "cabinet_temp_c"
unit = "°C"

[[points]]
name = "door_open"
device = "plant"
address = "door_open"

[[actuators]]
name = "heater"
device = "plant"
address = "heater"
kind = "binary"
safe_value = 0
[actuators.envelope]
min_on_s = 300
min_off_s = 300
interlocks = [{{ point = "door_open", below = 0.5 }}]

[[actuators]]
name = "fan"
device = "plant"
address = "fan"
kind = "analog"
unit = "%"
safe_value = 1
[actuators.envelope]
max_rate_per_s = 0.01

[control]
enabled = true
max_input_age_s = 30

[control.policies.heater]
kind = "hysteresis"
point = "cabinet_temp_c"
on_at = 16
off_at = 18

[control.policies.fan]
kind = "hysteresis"
point = "cabinet_temp_c"
on_at = 35
off_at = 30
"""


class Loop:
    """A controller wired to real actuators on the sim device, driven frame by frame."""

    def __init__(self, config: Config, forecaster: object = None) -> None:
        self.config = config
        self.clock = SimClock()
        ctx = DriverContext(clock=self.clock, config=config)
        dev = config.devices[0]
        self.worker = DeviceWorker(dev, kinds()[dev.kind].open(dev, ctx))
        self.acts = Actuators(config.actuators, {dev.name: self.worker}, self.clock)
        self.ctl = Controller(
            config,
            self.clock,
            self.acts,
            forecaster=forecaster,  # type: ignore[arg-type]
            overrides_dir=Path(config.agent.state_dir) / "overrides",
        )
        self.latest: dict[str, Reading] = {}
        self.acts.safe_state("start")
        self.acts.take_actuations()

    def step(
        self,
        advance_s: float,
        quality: Quality = Quality.GOOD,
        door: float = 0.0,
        **values: float,
    ) -> Frame:
        self.clock.advance(advance_s)
        now = self.clock.now()
        for point, v in {"door_open": door, **values}.items():
            self.latest[point] = Reading(
                now, point, None if quality != Quality.GOOD else v, quality
            )
        frame = Frame(ts=now, readings=[], latest=self.latest)
        self.ctl.process(frame)
        frame.actuations += self.acts.take_actuations()
        return frame

    def close(self) -> None:
        self.worker.close()


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loop]:
    lp = Loop(parse_config(CONFIG.format(state_dir=tmp_path), "<test>"))
    yield lp
    lp.close()


def _one(frame: Frame, actuator: str):
    acts = [a for a in frame.actuations if a.actuator == actuator]
    assert len(acts) == 1, frame.actuations
    return acts[0]


def test_hysteresis_switches_and_explains(loop: Loop) -> None:
    # The start's fail-safe write began the heater's 300 s minimum off time.
    assert not [
        a
        for a in loop.step(60, cabinet_temp_c=15.2).actuations
        if a.actuator == "heater"
    ]
    f = loop.step(240, cabinet_temp_c=15.2)
    heater = _one(f, "heater")
    assert heater.value == 1.0 and heater.source == "policy"
    assert heater.data["inputs"]["cabinet_temp_c"]["value"] == 15.2
    assert explain(heater, loop.config.actuator("heater"), "°C") == (
        "heater switched on at 00:05 UTC by the hysteresis policy: cabinet_temp_c "
        "read 15.2 °C, below the 16 °C switch-on threshold."
    )
    # Each write is also an actuation event with the explanation as its message.
    events = [e for e in f.events if e.kind == "actuation"]
    assert [e.data["actuator"] for e in events] == ["heater", "fan"]
    assert events[0].message == explain(heater, loop.config.actuator("heater"), "°C")

    # The fan went off at the first step; too hot, it comes on again at
    # 1 % a second at most.
    fan = _one(loop.step(10, cabinet_temp_c=35.5), "fan")
    assert fan.value == pytest.approx(0.1)
    assert explain(fan, loop.config.actuator("fan"), "°C") == (
        "fan set to 10 % at 00:05 UTC by the hysteresis policy: cabinet_temp_c read "
        "35.5 °C, above the 35 °C switch-on threshold. The safety envelope turned the "
        "request of 100 % into 10 % (the slew limit: at most 0.01 per s)."
    )

    # Between the thresholds nothing changes; above off_at the heater waits for
    # its minimum on time, then goes off.
    assert not [
        a
        for a in loop.step(60, cabinet_temp_c=17.0).actuations
        if a.actuator == "heater"
    ]
    assert not [
        a
        for a in loop.step(60, cabinet_temp_c=18.5).actuations
        if a.actuator == "heater"
    ]
    off = _one(loop.step(200, cabinet_temp_c=18.5), "heater")
    assert off.value == 0.0


def test_min_on_time_clamp_is_explained(loop: Loop) -> None:
    loop.step(300, cabinet_temp_c=15.0)
    loop.step(10, cabinet_temp_c=19.0)  # held on: no write, nothing to record
    a = loop.acts.write("heater", 0, source="cloud", reason="test command")
    assert a is not None and a.value == 1.0
    assert explain(a, loop.config.actuator("heater")) == (
        "heater switched on at 00:05 UTC by cloud: test command. The safety envelope "
        "turned the request of off into on (the minimum on time: 10 s of 300 s)."
    )


def test_lost_input_goes_to_fail_safe_and_back(loop: Loop) -> None:
    loop.step(300, cabinet_temp_c=15.0)
    f = loop.step(1, quality=Quality.TIMEOUT, cabinet_temp_c=0.0)
    heater = _one(f, "heater")
    assert heater.value == 0.0 and heater.source == "failsafe"
    assert explain(heater, loop.config.actuator("heater")) == (
        "heater switched off at 00:05 UTC, its fail-safe value: inputs lost: "
        "cabinet_temp_c is timeout."
    )
    # A reading older than max_input_age_s is lost too (the fan: safe is full).
    loop.latest["cabinet_temp_c"] = Reading(loop.clock.now(), "cabinet_temp_c", 40.0)
    loop.clock.advance(31)
    frame = Frame(ts=loop.clock.now(), readings=[], latest=loop.latest)
    loop.ctl.process(frame)
    assert loop.acts.state["fan"].value == 1.0
    assert "fan" in loop.ctl.lost and "31 s old (limit 30 s)" in loop.ctl.lost["fan"]
    # Fresh good readings bring the policy back.
    loop.step(400, cabinet_temp_c=15.0)
    assert loop.ctl.lost == {}
    assert loop.acts.state["heater"].value == 1.0


def test_cloud_override_beats_policy_not_envelope_and_expires(loop: Loop) -> None:
    loop.step(300, cabinet_temp_c=15.0)  # heater on by policy
    oid = loop.ctl.override("heater", 0.0, 600, "cloud:ops")
    assert oid.startswith("override ") and oid.endswith(
        ": heater held at 0 for 600 s by cloud:ops, from the next cycle, within its envelope"
    )
    f = loop.step(10, cabinet_temp_c=15.0)
    # The minimum on time still holds: the override waits for the envelope.
    assert not [a for a in f.actuations if a.actuator == "heater"]
    assert [e.kind for e in f.events if e.kind.startswith("override")] == ["override"]
    f = loop.step(300, cabinet_temp_c=15.0)
    heater = _one(f, "heater")
    assert (heater.value, heater.source, heater.data["who"]) == (
        0.0,
        "override",
        "cloud:ops",
    )
    assert explain(heater, loop.config.actuator("heater")) == (
        "heater switched off at 00:10 UTC by a manual override from cloud:ops until 00:15 UTC."
    )
    # Expired: the policy takes over again.
    f = loop.step(300, cabinet_temp_c=15.0)
    assert [e.kind for e in f.events][:1] == ["override_end"]
    assert _one(f, "heater").source == "policy"


def test_override_is_checked(loop: Loop) -> None:
    with pytest.raises(
        CommandError, match=r"actuator 'pump' is not configured \(known: fan, heater\)"
    ):
        loop.ctl.override("pump", 1, 60, "x")
    with pytest.raises(
        CommandError, match=r"fan: value 2 is outside the actuator's range \(0 to 1\)"
    ):
        loop.ctl.override("fan", 2, 60, "x")
    with pytest.raises(CommandError, match=r"duration 0 s is not allowed"):
        loop.ctl.override("fan", 1, 0, "x")
    with pytest.raises(
        CommandError,
        match=r"^override: heater: value 0.5 is not allowed for a binary actuator"
        r" \(0 for off or 1 for on\)$",
    ):
        loop.ctl.override("heater", 0.5, 60, "x")
    # An analog actuator takes any value in its range.
    assert loop.ctl.override("fan", 0.5, 60, "x").endswith("within its envelope")


def test_interlock_beats_override(loop: Loop) -> None:
    loop.ctl.override("heater", 1.0, 600, "alice")
    f = loop.step(400, door=1.0, cabinet_temp_c=20.0)
    assert not [a for a in f.actuations if a.actuator == "heater"]
    assert loop.acts.state["heater"].value == 0.0
    a = loop.acts.write("heater", 1, source="cloud", reason="try")
    assert a is not None and a.value == 0.0
    assert a.data["clamps"][0]["rule"] == "interlock"
    assert a.data["clamps"][0]["detail"] == "door_open is 1 (needs door_open below 0.5)"


def test_technician_override_through_the_cli(
    loop: Loop, tmp_path: Path, capsys
) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text(CONFIG.format(state_dir=tmp_path))
    rc = main(
        [
            "actuate",
            "-c",
            str(cfg),
            "fan",
            "0.5",
            "--for",
            "10m",
            "--who",
            "bob",
            "--reason",
            "filter",
        ]
    )
    assert rc == 0
    assert "fan: override" in capsys.readouterr().out
    f = loop.step(60, cabinet_temp_c=33.0)
    fan = _one(f, "fan")
    assert (fan.value, fan.source, fan.data["who"], fan.data["note"]) == (
        0.5,
        "override",
        "bob",
        "filter",
    )
    assert explain(fan, loop.config.actuator("fan")) == (
        "fan set to 50 % at 00:01 UTC by a manual override from bob until 00:11 UTC (filter)."
    )
    assert list((tmp_path / "overrides").iterdir()) == []
    # 'auto' releases it; the policy (between thresholds, fan on) decides again.
    assert main(["actuate", "-c", str(cfg), "fan", "auto"]) == 0
    f = loop.step(60, cabinet_temp_c=36.0)
    assert f.events[0].kind == "override_end"
    assert _one(f, "fan").source == "policy"


def test_bad_request_file_is_set_aside(loop: Loop, tmp_path: Path) -> None:
    d = tmp_path / "overrides"
    d.mkdir()
    (d / "1.000-x.json").write_text(
        '{"actuator": "fan", "value": "high", "duration_s": 60}'
    )
    loop.step(1, cabinet_temp_c=20.0)
    assert [p.name for p in d.iterdir()] == ["1.000-x.rejected"]


def test_cli_rejects_unknown_actuator(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text(CONFIG.format(state_dir=tmp_path))
    assert main(["actuate", "-c", str(cfg), "pump", "1"]) == 2
    assert capsys.readouterr().err == (
        "edgetwin: override: actuator 'pump' is not configured (known: fan, heater)\n"
    )


class ThermalForecaster:
    """The plant's one-node thermal model, from a known state, ambient and load held."""

    def __init__(
        self, loop: Loop | None, cabinet_c: float, ambient_c: float, load_w: float
    ) -> None:
        self.loop, self.cabinet_c, self.ambient_c, self.load_w = (
            loop,
            cabinet_c,
            ambient_c,
            load_w,
        )
        self.p = PlantParams()

    def what_if(
        self,
        inputs: Mapping[str, float],
        horizon_s: float,
        *,
        environment: Mapping[str, float] | None = None,
        step_s: float = 60.0,
    ) -> Forecast:
        p = self.p
        assert self.loop is not None
        fan = inputs.get("fan", self.loop.acts.state["fan"].value or 0.0)
        g = p.ua_w_k + p.fan_conductance_w_k * fan
        t_eq = self.ambient_c + self.load_w / g
        t = np.arange(0.0, horizon_s + step_s / 2, step_s)
        y = t_eq + (self.cabinet_c - t_eq) * np.exp(-g * t / p.heat_capacity_j_k)
        return Forecast(t, {"cabinet_temp_c": y}, dict(inputs))


def _predictive(loop_cfg: Config) -> Config:
    pol = PredictiveConfig(
        "cabinet_temp_c", 20.0, 45.0, (0.0, 0.5, 1.0), horizon_s=1800, step_s=60
    )
    return replace(
        loop_cfg,
        control=replace(loop_cfg.control, policies=(("fan", pol),)),
    )


def test_predictive_picks_the_cheapest_safe_setting(tmp_path: Path) -> None:
    base = parse_config(CONFIG.format(state_dir=tmp_path), "<test>")
    # 40 °C inside, 25 °C outside, 200 W: off heads for 65 °C, half fan
    # for 33.2 °C; the exact exponential says when off crosses 45 °C.
    forecaster = ThermalForecaster(None, 40.0, 25.0, 200.0)
    lp = Loop(_predictive(base), forecaster)
    forecaster.loop = lp
    try:
        f = lp.step(200, cabinet_temp_c=40.0)
        fan = _one(f, "fan")
        assert fan.requested == 0.5
        fc = fan.data["forecast"]
        assert fc["rejected"]["value"] == 0.0
        g, c = 5.0, 20_000.0
        t_cross = -c / g * np.log((45.0 - 65.0) / (40.0 - 65.0))  # 892.6 s
        assert fc["rejected"]["in_s"] == 900.0  # the first forecast step past it
        assert t_cross == pytest.approx(892.57, abs=0.01)
        assert fc["rejected"]["peak"] == pytest.approx(
            65 - 25 * np.exp(-g * 1800 / c), abs=1e-6
        )
        assert explain(fan, lp.config.actuator("fan"), "°C") == (
            "fan set to 50 % at 00:03 UTC by the predictive policy: at 0 % the twin "
            "forecast 49.1 °C in 15 min against a 45 °C limit."
        )
    finally:
        lp.close()


def test_predictive_without_forecaster_is_a_clear_error(tmp_path: Path) -> None:
    base = _predictive(parse_config(CONFIG.format(state_dir=tmp_path), "<test>"))
    with pytest.raises(
        EdgetwinError,
        match=r"control\.policies\.fan: the predictive policy needs a twin",
    ):
        Loop(base)


def test_pid_output_is_limited_and_does_not_wind_up(tmp_path: Path) -> None:
    base = parse_config(CONFIG.format(state_dir=tmp_path), "<test>")
    pid = PidConfig("cabinet_temp_c", 30.0, kp=0.1, ki=0.01, reverse=True)
    lp = Loop(replace(base, control=replace(base.control, policies=(("fan", pid),))))
    try:
        # Far too hot for an hour: the output sits at its top and the
        # integral stays within the output range.
        for _ in range(60):
            lp.step(60, cabinet_temp_c=45.0)
        policy = lp.ctl.policies["fan"]
        assert lp.acts.state["fan"].value == 1.0
        assert policy.integral <= 1.0
        # Cooled below the setpoint: it comes off the top at once, not
        # after unwinding an hour of integral.
        f = lp.step(60, cabinet_temp_c=28.0)
        fan = _one(f, "fan")
        assert fan.requested < 1.0
        assert explain(fan, lp.config.actuator("fan"), "°C").startswith("fan set to ")
        assert (
            "by the PID policy: cabinet_temp_c read 28.0 °C against a 30 °C setpoint."
            in (explain(fan, lp.config.actuator("fan"), "°C"))
        )
    finally:
        lp.close()
