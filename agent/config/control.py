"""Configuration of the controller and of each actuator's safety envelope.

The ``[control]`` section names a policy per actuator::

    [control]
    enabled = true
    max_input_age_s = 30        # older readings are not decided on
    overrides_dir = "overrides" # under agent.state_dir; see agent.control.overrides

    [control.policies.heater]
    kind = "hysteresis"         # on below on_at, off above off_at (heating)
    point = "cabinet_temp_c"
    on_at = 16
    off_at = 18

The envelope of an actuator sits under its ``[[actuators]]`` table::

    [actuators.envelope]
    min = 0.2                   # narrower than the actuator's range
    max_rate_per_s = 0.01       # slew limit, units per second
    min_on_s = 120
    min_off_s = 120
    max_switches_per_h = 6
    interlocks = [{ point = "tank_level_pct", above = 20 }]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from agent.config.checker import Problems, Table

if TYPE_CHECKING:
    from agent.config.schema import Config

PolicyKind = Literal["hysteresis", "pid", "predictive"]


@dataclass(frozen=True)
class Interlock:
    """The actuator may leave its safe value only while ``point`` is within bounds."""

    point: str
    above: float = -math.inf
    below: float = math.inf

    def holds(self, value: float) -> bool:
        return self.above < value < self.below

    def describe(self) -> str:
        parts = []
        if self.above > -math.inf:
            parts.append(f"above {self.above:g}")
        if self.below < math.inf:
            parts.append(f"below {self.below:g}")
        return f"{self.point} {' and '.join(parts)}"


@dataclass(frozen=True)
class EnvelopeConfig:
    """Limits every write to one actuator must keep (``None``: no such limit).

    ``min`` and ``max`` narrow the actuator's range; ``max_rate_per_s`` is
    the largest change per second (analog outputs); ``min_on_s`` and
    ``min_off_s`` are the shortest time between switching on and off;
    ``max_switches_per_h`` caps the on/off changes in any hour;
    ``max_input_age_s`` is the oldest reading a policy may decide on;
    ``readback_tolerance`` is how far a read-back may differ from the
    value written before it is recorded as a mismatch.
    """

    min: float | None = None
    max: float | None = None
    max_rate_per_s: float | None = None
    min_on_s: float = 0.0
    min_off_s: float = 0.0
    max_switches_per_h: int | None = None
    max_input_age_s: float | None = None
    readback_tolerance: float = 1e-6
    interlocks: tuple[Interlock, ...] = ()


@dataclass(frozen=True)
class HysteresisConfig:
    """Switch between two values at two thresholds on one point.

    With ``on_at`` above ``off_at`` the output turns on above ``on_at``
    (cooling); with ``on_at`` below ``off_at`` it turns on below ``on_at``
    (heating).
    """

    point: str
    on_at: float
    off_at: float
    on_value: float | None = None
    off_value: float | None = None
    kind: Literal["hysteresis"] = "hysteresis"


@dataclass(frozen=True)
class PidConfig:
    """Hold ``point`` at ``setpoint``; ``reverse`` for outputs that lower the point."""

    point: str
    setpoint: float
    kp: float
    ki: float = 0.0
    kd: float = 0.0
    reverse: bool = False
    kind: Literal["pid"] = "pid"


@dataclass(frozen=True)
class PredictiveConfig:
    """Pick the cheapest candidate whose forecast stays within ``low`` to ``high``.

    ``candidates`` are listed from the cheapest; the twin is asked what each
    would do over ``horizon_s``, in steps of ``step_s``, every
    ``interval_s``.
    """

    point: str
    low: float
    high: float
    candidates: tuple[float, ...]
    horizon_s: float = 900.0
    step_s: float = 60.0
    interval_s: float = 60.0
    kind: Literal["predictive"] = "predictive"


PolicyConfig = HysteresisConfig | PidConfig | PredictiveConfig


@dataclass(frozen=True)
class ControlConfig:
    """Automatic actuator control; ``enabled = false`` leaves outputs alone."""

    enabled: bool = False
    max_input_age_s: float = 30.0
    overrides_dir: str = "overrides"
    max_override_s: float = 86_400.0
    policies: tuple[tuple[str, PolicyConfig], ...] = field(default=())

    def policy(self, actuator: str) -> PolicyConfig | None:
        return next((p for name, p in self.policies if name == actuator), None)


def parse_control(t: Table) -> ControlConfig:
    """Read the ``[control]`` section."""
    enabled = t.bool("enabled", False)
    age_s = t.number("max_input_age_s", 30.0, min=0.001, max=86400, unit="s")
    overrides_dir = t.str("overrides_dir", "overrides")
    max_override_s = t.number(
        "max_override_s", 86400.0, min=1, max=30 * 86400, unit="s"
    )
    policies = []
    pt = t.table("policies")
    for name in list(pt.data):
        policy = _policy(pt.table(name))
        if policy is not None:
            policies.append((name, policy))
    pt.finish()
    t.finish()
    return ControlConfig(
        enabled=enabled,
        max_input_age_s=age_s,
        overrides_dir=overrides_dir,
        max_override_s=max_override_s,
        policies=tuple(policies),
    )


def _policy(t: Table) -> PolicyConfig | None:
    kind = t.str("kind", required=True, choices=("hysteresis", "pid", "predictive"))
    point = t.str("point", required=True)
    out: PolicyConfig | None = None
    if kind == "hysteresis":
        on_at = t.number("on_at", 0.0, required=True)
        off_at = t.number("off_at", 0.0, required=True)
        on_value = t.raw("on_value")
        off_value = t.raw("off_value")
        if on_at == off_at and t.has("on_at") and t.has("off_at"):
            t.error(
                "off_at",
                f"{off_at:g} must differ from on_at (the gap is the hysteresis)",
            )
        out = HysteresisConfig(
            point=point,
            on_at=on_at,
            off_at=off_at,
            on_value=t.number("on_value", 0.0) if on_value is not None else None,
            off_value=t.number("off_value", 0.0) if off_value is not None else None,
        )
    elif kind == "pid":
        out = PidConfig(
            point=point,
            setpoint=t.number("setpoint", 0.0, required=True),
            kp=t.number("kp", 0.0, required=True),
            ki=t.number("ki", 0.0, min=0),
            kd=t.number("kd", 0.0, min=0),
            reverse=t.bool("reverse", False),
        )
    elif kind == "predictive":
        low = t.number("low", 0.0, required=True)
        high = t.number("high", 0.0, required=True)
        cands = t.raw("candidates")
        values: tuple[float, ...] = ()
        if (
            not isinstance(cands, list)
            or not cands
            or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in cands
            )
        ):
            t.error(
                "candidates", f"expected a non-empty array of numbers, got {cands!r}"
            )
        else:
            values = tuple(float(v) for v in cands)
        if low >= high:
            t.error("high", f"{high:g} must be above low {low:g}")
        out = PredictiveConfig(
            point=point,
            low=low,
            high=high,
            candidates=values,
            horizon_s=t.number("horizon_s", 900.0, min=1, max=7 * 86400, unit="s"),
            step_s=t.number("step_s", 60.0, min=0.1, max=86400, unit="s"),
            interval_s=t.number("interval_s", 60.0, min=0.001, max=86400, unit="s"),
        )
    t.finish()
    return out if point else None


def parse_envelope(t: Table, lo: float, hi: float) -> EnvelopeConfig:
    """Read an actuator's ``envelope`` table; ``lo``/``hi`` are its range."""
    emin = t.raw("min")
    emax = t.raw("max")
    env_min = t.number("min", lo) if emin is not None else None
    env_max = t.number("max", hi) if emax is not None else None
    if env_min is not None and not lo <= env_min <= hi:
        t.error(
            "min", f"{env_min:g} is outside the actuator's range ({lo:g} to {hi:g})"
        )
    if env_max is not None and not lo <= env_max <= hi:
        t.error(
            "max", f"{env_max:g} is outside the actuator's range ({lo:g} to {hi:g})"
        )
    if env_min is not None and env_max is not None and env_min >= env_max:
        t.error("max", f"{env_max:g} must be above envelope min {env_min:g}")
    rate = t.raw("max_rate_per_s")
    switches = t.raw("max_switches_per_h")
    age = t.raw("max_input_age_s")
    cfg = EnvelopeConfig(
        min=env_min,
        max=env_max,
        max_rate_per_s=t.number("max_rate_per_s", 1.0, min=1e-9)
        if rate is not None
        else None,
        min_on_s=t.number("min_on_s", 0.0, min=0, max=86400, unit="s"),
        min_off_s=t.number("min_off_s", 0.0, min=0, max=86400, unit="s"),
        max_switches_per_h=t.int("max_switches_per_h", 60, min=1, max=3600)
        if switches is not None
        else None,
        max_input_age_s=t.number(
            "max_input_age_s", 30.0, min=0.001, max=86400, unit="s"
        )
        if age is not None
        else None,
        readback_tolerance=t.number("readback_tolerance", 1e-6, min=0),
        interlocks=_interlocks(t),
    )
    t.finish()
    return cfg


def _interlocks(t: Table) -> tuple[Interlock, ...]:
    out = []
    for it in t.tables("interlocks"):
        point = it.str("point", required=True)
        above = it.number("above", -math.inf) if it.has("above") else -math.inf
        below = it.number("below", math.inf) if it.has("below") else math.inf
        if not it.has("above") and not it.has("below"):
            it.error("point", "an interlock needs 'above' or 'below' (or both)")
        it.finish()
        if point:
            out.append(Interlock(point=point, above=above, below=below))
    return tuple(out)


def check_control(config: Config, problems: Problems) -> None:
    """Check that policies and interlocks name configured actuators and points."""
    points = {p.name for p in config.points}
    actuators = {a.name: a for a in config.actuators}
    known = ", ".join(sorted(points)) or "none are configured"
    for name, policy in config.control.policies:
        key = f"control.policies.{name}"
        if name not in actuators:
            allowed = ", ".join(sorted(actuators)) or "none are configured"
            problems.add(
                key, f"{name!r} is not a configured actuator (known: {allowed})"
            )
        if policy.point not in points:
            problems.add(
                f"{key}.point",
                f"{policy.point!r} is not a configured point (known: {known})",
            )
    for i, a in enumerate(config.actuators):
        env = a.envelope
        if not isinstance(env, EnvelopeConfig):
            continue
        for j, lock in enumerate(env.interlocks):
            if lock.point not in points:
                problems.add(
                    f"actuators[{i}].envelope.interlocks[{j}].point",
                    f"{lock.point!r} is not a configured point (known: {known})",
                )
