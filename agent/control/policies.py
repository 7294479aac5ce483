"""Control policies: each proposes a value for one actuator from the readings.

A policy only proposes; ``Actuators.write`` and its envelope decide what is
written. A policy that cannot decide (its twin failed) raises
``InputsLostError`` and the controller sends the actuator to its fail-safe value.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from agent.config.control import (
    HysteresisConfig,
    PidConfig,
    PolicyConfig,
    PredictiveConfig,
)
from agent.config.schema import ActuatorConfig
from agent.errors import EdgetwinError
from agent.reading import Reading
from agent.twin.forecast import Forecaster

log = logging.getLogger(__name__)


class InputsLostError(EdgetwinError, RuntimeError):
    """A policy cannot decide: what it depends on is missing."""


@dataclass
class Proposal:
    """A value a policy asks for, why, and what it was decided on."""

    value: float
    reason: str
    data: dict[str, Any] = field(default_factory=dict)


class Policy(Protocol):
    """Proposes a value for one actuator from the latest reading of its point."""

    kind: str
    point: str

    def propose(
        self, now: float, reading: Reading, current: float | None
    ) -> Proposal: ...


def _reading_data(r: Reading) -> dict[str, Any]:
    return {"value": r.value, "ts": r.ts, "quality": r.quality.label}


class Hysteresis:
    """On/off at two thresholds; holds its state between them."""

    kind = "hysteresis"

    def __init__(self, actuator: ActuatorConfig, config: HysteresisConfig) -> None:
        self.config = config
        self.point = config.point
        self.on_value = actuator.max if config.on_value is None else config.on_value
        self.off_value = actuator.min if config.off_value is None else config.off_value
        self.cooling = config.on_at > config.off_at
        self.on: bool | None = None

    def propose(self, now: float, reading: Reading, current: float | None) -> Proposal:
        """Return the on or off value for the reading."""
        c = self.config
        y = float(reading.value)  # type: ignore[arg-type]  # the controller passes good readings
        if self.on is None:
            self.on = current is not None and current > self.off_value
        if self.cooling:
            turn_on, turn_off = y > c.on_at, y < c.off_at
        else:
            turn_on, turn_off = y < c.on_at, y > c.off_at
        if turn_on:
            self.on = True
        elif turn_off:
            self.on = False
        value = self.on_value if self.on else self.off_value
        side = "above" if self.cooling == self.on else "below"
        threshold = c.on_at if self.on else c.off_at
        return Proposal(
            value,
            f"{self.point} {y:g} {'on' if self.on else 'off'} ({side} {threshold:g})",
            {
                "policy": "hysteresis",
                "inputs": {self.point: _reading_data(reading)},
                "on_at": c.on_at,
                "off_at": c.off_at,
                "state": "on" if self.on else "off",
            },
        )


class Pid:
    """A PID loop with output limits and anti-windup by conditional integration.

    The integral only grows while the output is not saturated in the
    direction the error pushes, and is itself kept within the output
    limits, so a long saturation does not leave a wound-up integral behind.
    """

    kind = "pid"

    def __init__(
        self, actuator: ActuatorConfig, config: PidConfig, lo: float, hi: float
    ) -> None:
        self.config = config
        self.point = config.point
        self.lo, self.hi = lo, hi
        self.integral: float | None = None
        self.last_error: float | None = None
        self.last_ts: float | None = None

    def propose(self, now: float, reading: Reading, current: float | None) -> Proposal:
        """Return the loop's output for the reading at ``now``."""
        c = self.config
        y = float(reading.value)  # type: ignore[arg-type]  # the controller passes good readings
        error = (y - c.setpoint) if c.reverse else (c.setpoint - y)
        if self.integral is None:
            self.integral = min(
                self.hi, max(self.lo, current if current is not None else self.lo)
            )
        dt = 0.0 if self.last_ts is None else max(0.0, now - self.last_ts)
        derivative = 0.0
        if self.last_error is not None and dt > 0:
            derivative = (error - self.last_error) / dt
        p_term = c.kp * error
        raw = p_term + self.integral + c.kd * derivative
        saturated_high = raw >= self.hi and error > 0
        saturated_low = raw <= self.lo and error < 0
        if dt > 0 and not (saturated_high or saturated_low):
            self.integral = min(
                self.hi, max(self.lo, self.integral + c.ki * error * dt)
            )
        out = min(self.hi, max(self.lo, p_term + self.integral + c.kd * derivative))
        self.last_error, self.last_ts = error, now
        return Proposal(
            out,
            f"{self.point} {y:g} against setpoint {c.setpoint:g}",
            {
                "policy": "pid",
                "inputs": {self.point: _reading_data(reading)},
                "setpoint": c.setpoint,
                "error": error,
                "integral": self.integral,
            },
        )


class Predictive:
    """Asks the twin what each candidate would do and picks the cheapest safe one.

    Candidates are tried from the cheapest; the first whose forecast of the
    point stays within ``low`` to ``high`` over the horizon wins. When none
    does, the one with the smallest excursion wins. The choice is kept for
    ``interval_s`` before the twin is asked again.
    """

    kind = "predictive"

    def __init__(
        self, actuator: ActuatorConfig, config: PredictiveConfig, forecaster: Forecaster
    ) -> None:
        self.actuator = actuator
        self.config = config
        self.point = config.point
        self.forecaster = forecaster
        self.last: Proposal | None = None
        self.last_ts: float | None = None

    def propose(self, now: float, reading: Reading, current: float | None) -> Proposal:
        """Return the cheapest candidate whose forecast stays inside the limits."""
        c = self.config
        if (
            self.last is not None
            and self.last_ts is not None
            and 0 <= now - self.last_ts < c.interval_s
        ):
            return self.last
        tried: list[dict[str, Any]] = []
        for value in c.candidates:
            try:
                f = self.forecaster.what_if(
                    {self.actuator.name: value}, c.horizon_s, step_s=c.step_s
                )
                y = np.asarray(f.series[self.point], dtype=float)
            except Exception as exc:  # any twin failure means no forecast to decide on
                raise InputsLostError(
                    f"the twin gave no forecast of {self.point}: {exc}"
                ) from exc
            tried.append(self._judge(value, f.times_s, y))
            if tried[-1]["excursion"] == 0.0:
                break
        best = min(
            tried, key=lambda t: t["excursion"]
        )  # the first of equals: the cheapest
        i = tried.index(best)
        forecast = {
            "point": self.point,
            "low": c.low,
            "high": c.high,
            "horizon_s": c.horizon_s,
            "chosen": best,
            "rejected": tried[i - 1] if i > 0 else None,
        }
        proposal = Proposal(
            best["value"],
            f"forecast of {self.point} {best['min']:.1f} to {best['max']:.1f} "
            f"over {c.horizon_s:g} s",
            {
                "policy": "predictive",
                "inputs": {self.point: _reading_data(reading)},
                "forecast": forecast,
            },
        )
        self.last, self.last_ts = proposal, now
        return proposal

    def _judge(
        self, value: float, times_s: np.ndarray, y: np.ndarray
    ) -> dict[str, Any]:
        c = self.config
        over = float(max(0.0, y.max() - c.high))
        under = float(max(0.0, c.low - y.min()))
        out: dict[str, Any] = {
            "value": float(value),
            "min": float(y.min()),
            "max": float(y.max()),
            "excursion": max(over, under),
        }
        if over > 0 or under > 0:
            high = over >= under
            limit = c.high if high else c.low
            idx = int(np.argmax(y > limit)) if high else int(np.argmax(y < limit))
            out.update(
                side="high" if high else "low",
                limit=limit,
                peak=float(y.max() if high else y.min()),
                in_s=float(times_s[idx]),
            )
        return out


def build_policy(
    actuator: ActuatorConfig,
    config: PolicyConfig,
    *,
    lo: float,
    hi: float,
    forecaster: Forecaster | None,
) -> Policy:
    """Make the policy ``config`` describes for ``actuator``.

    Raises ``EdgetwinError`` for a predictive policy without a forecaster.
    """
    if isinstance(config, HysteresisConfig):
        return Hysteresis(actuator, config)
    if isinstance(config, PidConfig):
        return Pid(actuator, config, lo, hi)
    if forecaster is None:
        raise EdgetwinError(
            f"control.policies.{actuator.name}: the predictive policy needs a twin "
            "that forecasts (set [twin] kind, or choose hysteresis or pid)"
        )
    return Predictive(actuator, config, forecaster)
