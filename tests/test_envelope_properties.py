"""Property tests: whatever is asked, no write leaves the safety envelope.

Random sequences of policy outputs (with fresh, stale and bad inputs),
manual overrides, cloud commands, safe-state requests, interlock readings
and clock jumps (forwards and backwards) go through ``Actuators.write`` to
the simulated plant's devices. Every write that reaches a device is checked
against an oracle kept in the test, from the writes alone: range, slew,
minimum on and off times, the switching cap, interlocks and the stale-data
guard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agent.actuators import Actuators
from agent.clock import SimClock
from agent.config import parse_config
from agent.reading import Quality, Reading
from agent.sampler import DeviceWorker
from drivers.base import DriverContext
from drivers.registry import kinds

CONFIG = """
[[devices]]
name = "plant"
kind = "sim"

[[points]]
name = "door_open"
device = "plant"
address = "door_open"

[[points]]
name = "cabinet_temp_c"
device = "plant"
address = "cabinet_temp_c"

[[actuators]]
name = "heater"
device = "plant"
address = "heater"
kind = "binary"
safe_value = 0
[actuators.envelope]
min_on_s = 120
min_off_s = 60
max_switches_per_h = 2
max_input_age_s = 20
interlocks = [{ point = "door_open", below = 0.5 }]

[[actuators]]
name = "fan"
device = "plant"
address = "fan"
kind = "analog"
min = 0
max = 1
safe_value = 1
[actuators.envelope]
max = 0.9
max_rate_per_s = 0.005
min_on_s = 30
min_off_s = 90
max_switches_per_h = 3
max_input_age_s = 20
"""

EPS = 1e-9


@dataclass
class Oracle:
    """What the test itself knows of one actuator's writes."""

    value: float | None = None
    ts: float | None = None
    switched_ts: float | None = None
    switches: list[float] = field(default_factory=list)


def _open() -> tuple[Actuators, SimClock, list[DeviceWorker]]:
    config = parse_config(CONFIG, "<test>")
    clock = SimClock()
    ctx = DriverContext(clock=clock, config=config)
    dev = config.devices[0]
    worker = DeviceWorker(dev, kinds()[dev.kind].open(dev, ctx))
    return Actuators(config.actuators, {dev.name: worker}, clock), clock, [worker]


values = st.one_of(
    st.floats(min_value=-2, max_value=3),
    st.sampled_from([0.0, 1.0, 0.5, 0.1, 0.9, math.nan, math.inf, -math.inf]),
)
ages = st.one_of(st.just(0.0), st.floats(min_value=0, max_value=60))
qualities = st.sampled_from([Quality.GOOD, Quality.GOOD, Quality.GOOD, Quality.TIMEOUT])
ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("advance"),
            st.one_of(
                st.sampled_from([15.0, 31.0, 61.0, 121.0, 400.0]),
                st.floats(min_value=-900, max_value=1800),
            ),
        ),
        st.tuples(
            st.just("policy"),
            st.sampled_from(["heater", "fan"]),
            values,
            ages,
            qualities,
        ),
        st.tuples(
            st.just("command"),
            st.sampled_from(["heater", "fan"]),
            values,
            st.sampled_from(["override", "cloud"]),
        ),
        st.tuples(st.just("door"), st.sampled_from([0.0, 1.0]), ages, qualities),
        st.tuples(st.just("safe")),
    ),
    min_size=1,
    max_size=60,
)


def _interlock_holds(acts: Actuators, now: float) -> bool:
    r = acts.readings.get("door_open")
    return (
        r is not None
        and r.ok
        and r.value is not None
        and now - r.ts <= 20
        and r.value < 0.5
    )


def _check(
    acts: Actuators, oracle: dict[str, Oracle], act: object, inputs: dict
) -> None:
    a = act  # an Actuation
    name = a.actuator  # type: ignore[attr-defined]
    cfg = acts.configs[name]
    env = cfg.envelope
    v, now = a.value, a.ts  # type: ignore[attr-defined]
    o = oracle[name]
    protective = a.data["protective"]  # type: ignore[attr-defined]
    lo = max(cfg.min, env.min if env.min is not None else cfg.min)
    hi = min(cfg.max, env.max if env.max is not None else cfg.max)

    def on(x: float) -> bool:
        return x > cfg.min + EPS

    if protective:
        assert v == cfg.safe_value
    else:
        # Range, interlock and stale-data guard.
        # Outside the range only on the way in from a fail-safe value
        # outside it, at the slew rate, never moving away from the range.
        if not lo - EPS <= v <= hi + EPS:
            assert o.value is not None, (name, v)
            bound = hi if v > hi else lo
            assert (v - bound) * (o.value - bound) > 0, (name, v, o.value)
            assert abs(v - bound) <= abs(o.value - bound) + EPS, (name, v, o.value)
        if cfg.kind == "binary":
            assert v in (cfg.min, cfg.max)
        if name == "heater":
            assert _interlock_holds(acts, now) or v == cfg.safe_value
        for r in inputs.values():
            assert r.ok and now - r.ts <= 20, (name, r, now)

        # Wear rules against the previous write.
        if o.value is not None:
            if env.max_rate_per_s is not None:
                assert (
                    abs(v - o.value) <= env.max_rate_per_s * max(0.0, now - o.ts) + EPS
                )
            if on(v) != on(o.value):
                need = env.min_on_s if on(o.value) else env.min_off_s
                assert now - o.switched_ts >= need - EPS, (name, now - o.switched_ts)
                recent = [t for t in o.switches if t > now - 3600]
                assert len(recent) < env.max_switches_per_h

    # Update the oracle from what reached the device.
    if o.value is None or on(v) != on(o.value):
        if o.value is not None:
            o.switches.append(now)
        o.switched_ts = now
    o.value, o.ts = v, now


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@example(
    # The door opens while the heater is asked on: the interlock keeps it off.
    [
        ("advance", 61.0),
        ("door", 1.0, 0.0, Quality.GOOD),
        ("policy", "heater", 1.0, 0.0, Quality.GOOD),
    ]
)
@example(
    # Switching as often as the minimum times allow meets the hourly cap.
    [("door", 0.0, 0.0, Quality.GOOD)]
    + [
        op
        for v in (1.0, 0.0) * 4
        for op in (
            ("advance", 121.0),
            ("door", 0.0, 0.0, Quality.GOOD),
            ("command", "heater", v, "cloud"),
        )
    ]
)
@example([("advance", -100.0), ("command", "fan", 0.5, "cloud")])  # clock went back
@given(ops)
def test_no_write_leaves_the_envelope(sequence: list[tuple]) -> None:
    acts, clock, workers = _open()
    oracle = {name: Oracle() for name in acts.configs}
    try:
        for act in [
            acts.write(n, 0.0, source="safe-state", reason="start")
            for n in ("heater", "fan")
        ]:
            _check(acts, oracle, act, {})
        for op in sequence:
            kind = op[0]
            now = clock.now()
            if kind == "advance":
                clock.advance(op[1])
                continue
            if kind == "door":
                acts.readings = {
                    "door_open": Reading(now - op[2], "door_open", op[1], op[3])
                }
                continue
            if kind == "safe":
                acts.take_actuations()
                acts.safe_state("test")
                for a in acts.take_actuations():
                    _check(acts, oracle, a, {})
                continue
            if kind == "policy":
                _, name, value, age_s, quality = op
                r = Reading(
                    now - age_s,
                    "cabinet_temp_c",
                    None if quality != Quality.GOOD else 25.0,
                    quality,
                )
                inputs = {"cabinet_temp_c": r}
                a = acts.write(
                    name, value, source="policy", reason="test", inputs=inputs
                )
            else:
                _, name, value, source = op
                inputs = {}
                a = acts.write(name, value, source=source, reason="test")
            assert a is not None
            _check(acts, oracle, a, inputs)
            # Every clamp recorded names its rule and the values involved.
            for c in a.data["clamps"]:
                assert {"rule", "requested", "allowed", "detail"} <= set(c)
    finally:
        for w in workers:
            w.close()


def test_a_clamp_is_recorded_with_its_rule() -> None:
    acts, clock, workers = _open()
    try:
        acts.write("fan", 0.5, source="safe-state", reason="start")
        clock.advance(10)
        a = acts.write("fan", 0.95, source="cloud", reason="test")
        assert a is not None
        rules = [c["rule"] for c in a.data["clamps"]]
        assert rules == ["range", "slew"]
        # 1.0 is the fail-safe value the start left; 0.9 is the envelope's top;
        # 10 s at 0.005 per s allows 0.05 below 1.0.
        assert a.value == 0.95
        assert a.data["clamps"][1]["allowed"] == 0.95
    finally:
        for w in workers:
            w.close()
