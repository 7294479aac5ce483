"""Physics of the demo asset: an electrical cabinet in a daily ambient cycle.

The cabinet is one lumped thermal mass. Heat comes from the electronics
inside (a load that follows a daily duty pattern) and a heater relay; it
leaves through the walls to ambient air and through a PWM fan that blows
ambient air through a filter::

    C dT/dt = Q_load + Q_heater - (UA + G_fan * fan * filter) * (T - T_amb)

With inputs held over a step the equation has an exact solution, which
``step`` uses, so the result does not depend on the step size. The same
model is what the twin estimates, so the plant's constants are its truth.

Scheduled faults change the physics, not the readings' plumbing: a fan that
stops, a door left open (higher wall loss), a filter that clogs (less fan
conductance) and a temperature sensor that drifts.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace

import numpy as np

FAULT_KINDS = ("fan_stop", "door_open", "filter_clog", "sensor_drift")


@dataclass(frozen=True)
class PlantParams:
    """The cabinet's physical constants (SI units, temperatures in °C)."""

    heat_capacity_j_k: float = 20_000.0
    ua_w_k: float = 5.0
    fan_conductance_w_k: float = 15.0
    heater_w: float = 200.0
    load_w: float = 120.0
    load_swing_w: float = 40.0
    ambient_mean_c: float = 20.0
    ambient_swing_c: float = 8.0
    ambient_rh_pct: float = 55.0
    door_ua_w_k: float = 20.0
    fan_power_w: float = 6.0
    fan_bus_v: float = 12.0
    mains_v: float = 230.0
    mains_hz: float = 50.0


@dataclass(frozen=True)
class Fault:
    """A fault active from ``start_s`` for ``duration_s`` (plant seconds).

    ``magnitude`` is the fault's size: for ``filter_clog`` the fraction of
    fan conductance lost at its worst, for ``sensor_drift`` kelvin per hour.
    """

    kind: str
    start_s: float
    duration_s: float
    magnitude: float = 1.0

    def active(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.start_s + self.duration_s


@dataclass
class PlantState:
    """What the plant holds between steps."""

    t_s: float
    cabinet_c: float
    energy_kwh: float = 0.0
    heater_on: bool = False
    fan_duty: float = 0.0


@dataclass
class Plant:
    """The simulated cabinet, advanced lazily to the time it is looked at.

    Time ``t_s`` is seconds since the epoch of the agent's clock; the daily
    cycle follows UTC hours. All access is thread-safe.
    """

    params: PlantParams = field(default_factory=PlantParams)
    faults: tuple[Fault, ...] = ()
    seed: int = 1
    max_step_s: float = 10.0
    state: PlantState | None = None

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self.t0_s: float | None = None

    # -- inputs the actuators drive -------------------------------------

    def set_heater(self, t_s: float, on: bool) -> None:
        with self._lock:
            self.advance_to(t_s)
            self._state(t_s).heater_on = bool(on)

    def set_fan(self, t_s: float, duty: float) -> None:
        with self._lock:
            self.advance_to(t_s)
            self._state(t_s).fan_duty = min(1.0, max(0.0, float(duty)))

    # -- physics ----------------------------------------------------------

    def _state(self, t_s: float) -> PlantState:
        if self.state is None:
            self.t0_s = t_s
            amb = self.ambient_c(t_s)
            p = self.params
            self.state = PlantState(
                t_s=t_s,
                cabinet_c=amb + p.load_w / (p.ua_w_k + p.fan_conductance_w_k * 0.5),
            )
        return self.state

    def fault_active(self, kind: str, t_s: float) -> Fault | None:
        rel = t_s - (self.t0_s if self.t0_s is not None else t_s)
        for f in self.faults:
            if f.kind == kind and f.active(rel):
                return f
        return None

    def ambient_c(self, t_s: float) -> float:
        """Ambient temperature: coldest near 03:00 UTC, warmest near 15:00."""
        p = self.params
        hour = (t_s / 3600.0) % 24.0
        return p.ambient_mean_c + p.ambient_swing_c * math.sin(
            2 * math.pi * (hour - 9.0) / 24.0
        )

    def load_w(self, t_s: float) -> float:
        """Heat from the electronics: busier in the working day."""
        p = self.params
        hour = (t_s / 3600.0) % 24.0
        return p.load_w + p.load_swing_w * math.sin(2 * math.pi * (hour - 8.0) / 24.0)

    def conductance_w_k(self, t_s: float, fan_duty: float) -> float:
        """Total heat conductance to ambient air, fan and faults included."""
        p = self.params
        g = p.ua_w_k
        if self.fan_active(t_s, fan_duty) > 0:
            clog = self.fault_active("filter_clog", t_s)
            eff = 1.0
            if clog is not None:
                rel = t_s - (self.t0_s or t_s) - clog.start_s
                eff = 1.0 - clog.magnitude * min(
                    1.0, rel / max(clog.duration_s / 2, 1.0)
                )
            g += p.fan_conductance_w_k * fan_duty * eff
        if self.fault_active("door_open", t_s):
            g += p.door_ua_w_k
        return g

    def fan_active(self, t_s: float, fan_duty: float) -> float:
        return 0.0 if self.fault_active("fan_stop", t_s) else fan_duty

    def advance_to(self, t_s: float) -> None:
        """Integrate the physics up to ``t_s``; earlier times are ignored."""
        with self._lock:
            s = self._state(t_s)
            p = self.params
            while s.t_s < t_s:
                dt = min(self.max_step_s, t_s - s.t_s)
                mid = s.t_s + dt / 2
                g = self.conductance_w_k(mid, s.fan_duty)
                q = self.load_w(mid) + (p.heater_w if s.heater_on else 0.0)
                t_eq = self.ambient_c(mid) + q / g
                s.cabinet_c = t_eq + (s.cabinet_c - t_eq) * math.exp(
                    -g * dt / p.heat_capacity_j_k
                )
                s.energy_kwh += self.electrical_w(mid, s) * dt / 3.6e6
                s.t_s += dt

    def electrical_w(self, t_s: float, s: PlantState) -> float:
        p = self.params
        return (
            self.load_w(t_s)
            + (p.heater_w if s.heater_on else 0.0)
            + p.fan_power_w * self.fan_active(t_s, s.fan_duty)
        )

    # -- what the sensors see -------------------------------------------

    def signals(self, t_s: float) -> dict[str, float]:
        """Every signal a sensor could read at ``t_s``, noise included."""
        with self._lock:
            self.advance_to(t_s)
            s = self._state(t_s)
            p = self.params
            # Noise is drawn from a generator seeded by the time looked at,
            # not from one running sequence: which device thread reads
            # first must not change what any of them sees.
            n = np.random.default_rng([self.seed, round(t_s * 1000)]).normal
            amb = self.ambient_c(t_s)
            cab = s.cabinet_c
            drift = self.fault_active("sensor_drift", t_s)
            if drift is not None:
                rel = t_s - (self.t0_s or t_s) - drift.start_s
                cab_seen = cab + drift.magnitude * rel / 3600.0
            else:
                cab_seen = cab
            rh_amb = p.ambient_rh_pct
            rh_cab = min(100.0, rh_amb * _svp(amb) / _svp(cab))
            watts = self.electrical_w(t_s, s)
            volts = p.mains_v + n(0, 0.8)
            fan = self.fan_active(t_s, s.fan_duty)
            fan_a = p.fan_power_w * fan / p.fan_bus_v
            return {
                "cabinet_temp_c": cab_seen + n(0, 0.05),
                "cabinet_humidity_pct": rh_cab + n(0, 0.3),
                "pressure_hpa": 1013.25
                + 3.0 * math.sin(2 * math.pi * t_s / 86400 / 3)
                + n(0, 0.05),
                "ambient_temp_c": amb + n(0, 0.05),
                "ambient_humidity_pct": rh_amb + n(0, 0.3),
                "voltage_v": volts,
                "current_a": watts / volts,
                "power_w": watts + n(0, 0.5),
                "energy_kwh": s.energy_kwh,
                "frequency_hz": p.mains_hz + n(0, 0.01),
                "fan_current_a": fan_a + (n(0, 0.002) if fan > 0 else 0.0),
                "fan_bus_v": p.fan_bus_v + n(0, 0.01),
                "door_open": 1.0 if self.fault_active("door_open", t_s) else 0.0,
                "heater_on": 1.0 if s.heater_on else 0.0,
                "fan_duty": s.fan_duty,
            }

    def true_params(self) -> PlantParams:
        return replace(self.params)


SIGNALS = (
    "cabinet_temp_c",
    "cabinet_humidity_pct",
    "pressure_hpa",
    "ambient_temp_c",
    "ambient_humidity_pct",
    "voltage_v",
    "current_a",
    "power_w",
    "energy_kwh",
    "frequency_hz",
    "fan_current_a",
    "fan_bus_v",
    "door_open",
    "heater_on",
    "fan_duty",
)

INPUTS = ("heater", "fan")


def _svp(t_c: float) -> float:
    """Saturation vapour pressure in hPa (Magnus formula)."""
    return 6.112 * math.exp(17.62 * t_c / (243.12 + t_c))
