"""The safety envelope: the limits every actuator write keeps, whoever asked for it.

``Envelope.decide`` turns a requested value into the value that may be
written, and lists every clamp it applied. It is pure: the state it judges
against (last value, last switch, switches in the past hour) changes only in
``commit``, after the device took the write. ``Actuators.write`` is its only
caller on the write path, so nothing reaches a device without passing it.

The rules, in the order they apply:

1. a value that is not a finite number becomes the fail-safe value;
2. range: the actuator's ``min``/``max``, narrowed by the envelope's own;
   a binary output is snapped to its ``min`` or ``max``;
3. protective rules, which send the output to its fail-safe value: the
   fail-safe request itself (agent stopping, inputs lost), an interlock that
   does not hold (or whose point is missing, stale or of bad quality), and
   the stale-data guard (a policy's input older than the bound or of bad
   quality);
4. wear rules, waived for protective writes: slew rate, minimum on and off
   times, and the cap on switches per hour. A request they refuse holds
   the present value.

NOTE: the fail-safe value is allowed even where the envelope narrows the
range, and a protective write ignores the wear rules: stopping a pump
that runs dry matters more than its contactor's wear.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from agent.config.control import EnvelopeConfig
from agent.config.schema import ActuatorConfig
from agent.reading import Reading

HOUR_S = 3600.0
EPS = 1e-9


@dataclass(frozen=True)
class Clamp:
    """One limit the envelope applied: which rule, what was asked, what it allowed."""

    rule: str
    requested: float
    allowed: float
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "requested": self.requested,
            "allowed": self.allowed,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Decision:
    """The value that may be written and the clamps that led to it."""

    value: float
    clamps: tuple[Clamp, ...] = ()
    protective: bool = False


@dataclass
class EnvelopeState:
    """What the envelope remembers of the writes that reached the device."""

    value: float | None = None
    ts: float | None = None
    switched_ts: float | None = None
    switches: deque[float] = field(default_factory=deque)


class Envelope:
    """The limits of one actuator and the state needed to apply them."""

    def __init__(
        self, actuator: ActuatorConfig, *, max_input_age_s: float = 30.0
    ) -> None:
        self.actuator = actuator
        env = actuator.envelope
        self.config: EnvelopeConfig = (
            env if isinstance(env, EnvelopeConfig) else EnvelopeConfig()
        )
        c = self.config
        self.lo = actuator.min if c.min is None else max(actuator.min, c.min)
        self.hi = actuator.max if c.max is None else min(actuator.max, c.max)
        self.max_input_age_s = c.max_input_age_s or max_input_age_s
        self.state = EnvelopeState()

    def is_on(self, value: float) -> bool:
        """An output is on when it is above the bottom of the actuator's range."""
        return value > self.actuator.min + EPS

    # -- deciding ---------------------------------------------------------------

    def decide(
        self,
        requested: float,
        now: float,
        *,
        readings: Mapping[str, Reading],
        inputs: Mapping[str, Reading] | None = None,
        fail_safe: bool = False,
    ) -> Decision:
        """Return the value that may be written for ``requested`` at ``now``."""
        safe = self.actuator.safe_value
        clamps: list[Clamp] = []

        # Something that is not a number, then the range.
        value = float(requested)
        if not math.isfinite(value):
            clamps.append(Clamp("invalid", value, safe, "not a finite number"))
            return Decision(safe, tuple(clamps), protective=True)
        if fail_safe:
            return Decision(safe, (), protective=True)
        value = self._range(value, clamps)

        # Protective rules: interlocks and the stale-data guard.
        reason = self._interlock(now, readings) or self._stale(now, inputs)
        if reason is not None:
            rule, detail = reason
            if abs(value - safe) > EPS:
                clamps.append(Clamp(rule, value, safe, detail))
            return Decision(safe, tuple(clamps), protective=True)

        # Wear rules, against what the device holds now.
        value = self._wear(value, now, clamps)
        return Decision(value, tuple(clamps))

    def _range(self, value: float, clamps: list[Clamp]) -> float:
        out = min(self.hi, max(self.lo, value))
        if out != value:
            clamps.append(
                Clamp("range", value, out, f"allowed {self.lo:g} to {self.hi:g}")
            )
        if self.actuator.kind == "binary":
            snapped = self.hi if out >= (self.lo + self.hi) / 2 else self.lo
            if snapped != out:
                clamps.append(Clamp("binary", out, snapped, "an on/off output"))
            out = snapped
        return out

    def _interlock(
        self, now: float, readings: Mapping[str, Reading]
    ) -> tuple[str, str] | None:
        for lock in self.config.interlocks:
            r = readings.get(lock.point)
            if r is None or r.value is None or not r.ok:
                return (
                    "interlock",
                    f"{lock.point} has no good reading (needs {lock.describe()})",
                )
            if now - r.ts > self.max_input_age_s:
                return "interlock", (
                    f"{lock.point} is {now - r.ts:.0f} s old "
                    f"(limit {self.max_input_age_s:g} s; needs {lock.describe()})"
                )
            if not lock.holds(r.value):
                return (
                    "interlock",
                    f"{lock.point} is {r.value:g} (needs {lock.describe()})",
                )
        return None

    def _stale(
        self, now: float, inputs: Mapping[str, Reading] | None
    ) -> tuple[str, str] | None:
        for point, r in (inputs or {}).items():
            if r.value is None or not r.ok:
                return "bad_input", f"{point} is {r.quality.label}"
            if now - r.ts > self.max_input_age_s:
                return "stale_input", (
                    f"{point} is {now - r.ts:.0f} s old (limit {self.max_input_age_s:g} s)"
                )
        return None

    def _wear(self, value: float, now: float, clamps: list[Clamp]) -> float:
        st, c = self.state, self.config
        if st.value is None or st.ts is None:
            return value
        last = st.value

        # Slew rate: a clock that went back allows no change at all.
        if c.max_rate_per_s is not None:
            step = c.max_rate_per_s * max(0.0, now - st.ts)
            limited = min(last + step, max(last - step, value))
            if abs(limited - value) > EPS:
                clamps.append(
                    Clamp("slew", value, limited, f"at most {c.max_rate_per_s:g} per s")
                )
                value = limited

        # Switching on or off: minimum times and the hourly cap.
        if self.is_on(value) == self.is_on(last):
            return value
        if st.switched_ts is not None:
            held_s = now - st.switched_ts
            rule, need_s = (
                ("min_on", c.min_on_s) if self.is_on(last) else ("min_off", c.min_off_s)
            )
            if held_s < need_s:
                clamps.append(
                    Clamp(
                        rule, value, last, f"{max(0.0, held_s):.0f} s of {need_s:g} s"
                    )
                )
                return last
        cap = c.max_switches_per_h
        if cap is not None:
            recent = sum(1 for t in st.switches if t > now - HOUR_S)
            if recent >= cap:
                clamps.append(
                    Clamp(
                        "switch_cap", value, last, f"{recent} switches in the past hour"
                    )
                )
                return last
        return value

    # -- after the write ------------------------------------------------------

    def commit(self, value: float, now: float) -> None:
        """Remember that the device now holds ``value`` since ``now``."""
        st = self.state
        if st.value is None or self.is_on(value) != self.is_on(st.value):
            if st.value is not None:
                st.switches.append(now)
            st.switched_ts = now
        st.value, st.ts = value, now
        while st.switches and st.switches[0] <= now - HOUR_S:
            st.switches.popleft()
