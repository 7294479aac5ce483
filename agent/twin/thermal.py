"""The thermal template: one lumped mass heated by a load and a heater, cooled by a fan.

The asset obeys::

    C dT/dt = Q - (UA + G * fan) * (T - T_amb),    Q = P - P_fan * fan

where ``P`` is the measured electrical power (load, heater and fan) and
``P_fan * fan`` the part the fan motor draws, which leaves with the air.
Three estimators share the work:

* a power filter, states ``[load_w, heater_w, fan_power_w]``, explains the
  power reading from the actuator states (the load drifts as a random walk);
* a parameter filter (recursive least squares written as a Kalman filter
  with random-walk parameters) fits ``1/C``, ``UA/C`` and ``G/C`` to the
  equation integrated over windows of ``window_s``: integrating instead of
  differencing keeps sensor noise from swamping the slope;
* a temperature filter runs the exact discretised model with the current
  parameters and says what the sensor should read.

The parameter filter rejects windows whose fit is more than ``GATE`` sigmas
off (a door left open, a stopped fan), so short faults show up as residuals
instead of being learned; a change that lasts longer than ``RELEARN_S`` is
accepted as the asset's new normal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.config.twin import ThermalConfig
from agent.errors import CommandError
from agent.pipeline import Estimate
from agent.twin.forecast import Forecast
from agent.twin.kalman import KalmanFilter
from agent.twin.profile import DailyProfile, follow

GATE = 5.0
RELEARN_S = 2 * 3600.0
# Scale of the fitted parameters: kJ rather than J keeps the covariance tame.
KJ = 1000.0
# Load drift per second of the power filter, and the temperature filter's
# process noise as a share of the sensor noise per second: small, so that
# the expected value lags a physical change and its residual grows.
LOAD_DRIFT_W_PER_SQRT_S = 0.05
TEMPERATURE_PROCESS_SHARE = 0.02
LOAD = "load_w"
# A parameter is reported once its standard deviation is under this share.
KNOWN_REL_STD = 0.05
# How fast each fitted parameter may drift, as a share of ``drift_pct_per_h``
# (squared): the mass and the walls stay as built, the fan's path through its
# filter is what clogs.
DRIFT_SHARE = np.array([0.1, 0.25, 1.0]) ** 2


@dataclass
class ThermalInputs:
    """What one cycle gives the twin: fresh values and actuator states."""

    ts: float
    temperature_c: float | None
    ambient_c: float | None
    power_w: float | None
    heater: float
    fan: float
    changed_ts: float | None = None


class ThermalTwin:
    """The thermal template, learning its parameters online.

    ``observe`` is called every cycle; ``what_if`` forecasts from the
    current state. Parameters start from the configured guesses.
    """

    def __init__(self, config: ThermalConfig) -> None:
        self.config = config
        c = config
        theta0 = np.array(
            [
                KJ / c.heat_capacity_j_k,
                KJ * c.ua_w_k / c.heat_capacity_j_k,
                KJ * c.fan_conductance_w_k / c.heat_capacity_j_k,
            ]
        )
        self.params = KalmanFilter(theta0, np.diag(theta0**2))
        self.power = KalmanFilter(
            np.array([0.0, c.heater_w, 5.0]),
            np.diag([1e6, c.heater_w**2, 100.0]),
        )
        self.power_started = False
        self.temperature_c: float | None = None
        self.temperature_var = c.temperature_noise_c**2
        self.t_last: float | None = None
        self.t_power: float | None = None
        self.heater = 0.0
        self.fan = 0.0
        # The inputs as they were at the last temperature reading.
        self.held_heater = 0.0
        self.held_fan = 0.0
        self.ambient_c: float | None = None
        self.ambient_ts: float | None = None
        self.ambient_profile = DailyProfile()
        self.load_profile = DailyProfile()
        self.windows = 0
        self.rejected_since: float | None = None
        # The window being integrated for the parameter fit.
        self.w_start_ts: float | None = None
        self.w_start_c: float | None = None
        self.w_prev_dtheta: float | None = None
        self.w_heat = self.w_diff = self.w_fan_diff = 0.0
        self._h_power = np.zeros(3)
        self._h_params = np.zeros(3)
        self._q_power = np.array([LOAD_DRIFT_W_PER_SQRT_S**2, 1e-6, 1e-6])
        self._window_reset(None, None)

    # -- what the filters know ---------------------------------------------

    @property
    def heat_capacity_j_k(self) -> float:
        return KJ / max(float(self.params.x[0]), 1e-9)

    @property
    def ua_w_k(self) -> float:
        return float(self.params.x[1]) / max(float(self.params.x[0]), 1e-9)

    @property
    def fan_conductance_w_k(self) -> float:
        return float(self.params.x[2]) / max(float(self.params.x[0]), 1e-9)

    @property
    def heater_w(self) -> float:
        return float(self.power.x[1])

    @property
    def fan_power_w(self) -> float:
        return float(self.power.x[2])

    @property
    def load_w(self) -> float:
        return float(self.power.x[0])

    def hidden(self) -> dict[str, float]:
        """The hidden quantities learned so far, in SI units, named with their unit.

        A quantity appears once the data has pinned it down (its relative
        standard deviation is under ``KNOWN_REL_STD``): the heater's power
        needs the heater to have switched, the wall and fan conductances
        need the fan to have run at more than one duty.
        """
        out = {"load_w": self.load_w}
        if self.windows == 0:
            return out
        g = self.ua_w_k + self.fan_conductance_w_k * self.fan
        out["thermal_resistance_k_w"] = 1.0 / g if g > 0 else math.inf
        out["time_constant_s"] = self.heat_capacity_j_k / g if g > 0 else math.inf
        for name, kf, i, value in (
            ("heat_capacity_j_k", self.params, 0, self.heat_capacity_j_k),
            ("ua_w_k", self.params, 1, self.ua_w_k),
            ("fan_conductance_w_k", self.params, 2, self.fan_conductance_w_k),
            ("heater_w", self.power, 1, self.heater_w),
            ("fan_power_w", self.power, 2, self.fan_power_w),
        ):
            x = abs(float(kf.x[i]))
            if x > 0 and math.sqrt(max(float(kf.P[i, i]), 0.0)) < KNOWN_REL_STD * x:
                out[name] = value
        return out

    # -- one cycle --------------------------------------------------------------

    def observe(self, inp: ThermalInputs) -> dict[str, Estimate]:
        """Fold in one cycle's fresh values; return the modelled points' estimates."""
        out: dict[str, Estimate] = {}
        self.heater, self.fan = inp.heater, inp.fan
        if inp.ambient_c is not None:
            self.ambient_c, self.ambient_ts = inp.ambient_c, inp.ts
            self.ambient_profile.add(inp.ts, inp.ambient_c)
        elif (
            self.ambient_ts is not None
            and inp.ts - self.ambient_ts > self.config.stale_s
        ):
            # Without ambient the model says nothing; it restarts when it returns.
            self.ambient_c = self.ambient_ts = None
        if inp.power_w is not None:
            out[self.config.power] = self._observe_power(inp.ts, inp.power_w)
        if inp.temperature_c is not None and self.ambient_c is not None:
            est = self._observe_temperature(
                inp.ts, inp.temperature_c, inp.power_w, inp.changed_ts
            )
            if est is not None:
                out[self.config.temperature] = est
        return out

    def _observe_power(self, ts: float, power_w: float) -> Estimate:
        kf = self.power
        if not self.power_started:
            kf.x[0] = power_w - kf.x[1] * self.heater - kf.x[2] * self.fan
            self.power_started = True
        dt = 0.0 if self.t_power is None else max(0.0, ts - self.t_power)
        self.t_power = ts
        kf.predict(q=self._q_power * dt)
        h = self._h_power
        h[0], h[1], h[2] = 1.0, self.heater, self.fan
        nu, s, _ = kf.update(h, power_w, self.config.power_noise_w**2)
        self.load_profile.add(ts, self.load_w)
        return Estimate(expected=power_w - nu, residual=nu, z=nu / math.sqrt(s))

    def _load_now_w(self, power_w: float | None) -> float:
        """The heat load: the power reading less heater and fan, or its estimate."""
        if power_w is None:
            return self.load_w
        return power_w - self.heater_w * self.heater - self.fan_power_w * self.fan

    def _observe_temperature(
        self,
        ts: float,
        temperature_c: float,
        power_w: float | None,
        changed_ts: float | None,
    ) -> Estimate | None:
        ambient_c = self.ambient_c
        assert ambient_c is not None
        load_w = self._load_now_w(power_w)
        r = self.config.temperature_noise_c**2

        # First reading, or the first after a gap: nothing to compare with yet.
        if (
            self.temperature_c is None
            or self.t_last is None
            or ts - self.t_last > self.config.stale_s
        ):
            self.temperature_c, self.temperature_var, self.t_last = temperature_c, r, ts
            self.held_heater, self.held_fan = self.heater, self.fan
            self._window_reset(ts, temperature_c)
            return None

        # Predict with the current parameters: the inputs of the last reading
        # until they were changed, the present ones after.
        dt = max(0.0, ts - self.t_last)
        dt_new = dt
        if changed_ts is not None and self.t_last < changed_ts <= ts:
            dt_new = ts - changed_ts
        dt_old = dt - dt_new
        q_old_w = load_w + self.heater_w * self.held_heater
        q_new_w = load_w + self.heater_w * self.heater
        t_pred, decay = self.step(
            self.temperature_c, dt_old, q_old_w, ambient_c, self.held_fan
        )
        t_pred, decay_new = self.step(t_pred, dt_new, q_new_w, ambient_c, self.fan)
        decay *= decay_new
        var = (
            decay * decay * self.temperature_var
            + (TEMPERATURE_PROCESS_SHARE * self.config.temperature_noise_c) ** 2 * dt
        )
        nu = temperature_c - t_pred
        s = var + r
        gain = var / s
        self.temperature_c = t_pred + gain * nu
        self.temperature_var = (1.0 - gain) * var
        heat_j = q_old_w * dt_old + q_new_w * dt_new
        fan_s = self.held_fan * dt_old + self.fan * dt_new
        self._learn(
            ts=ts,
            temperature_c=temperature_c,
            ambient_c=ambient_c,
            heat_j=heat_j,
            fan_s=fan_s,
            dt=dt,
        )
        self.t_last = ts
        self.held_heater, self.held_fan = self.heater, self.fan
        return Estimate(expected=t_pred, residual=nu, z=nu / math.sqrt(s))

    def step(
        self, t_c: float, dt_s: float, q_w: float, ambient_c: float, fan: float
    ) -> tuple[float, float]:
        """Advance ``t_c`` by ``dt_s``, inputs held; return it and the decay factor."""
        a, b, c = (float(v) for v in self.params.x)
        a = max(a, 1e-9)
        rate_per_s = max(b + c * fan, 0.0) / KJ
        if dt_s <= 0.0:
            return t_c, 1.0
        if rate_per_s <= 1e-12:
            return t_c + a / KJ * q_w * dt_s, 1.0
        t_eq = ambient_c + q_w * a / KJ / rate_per_s
        decay = math.exp(-rate_per_s * dt_s)
        return t_eq + (t_c - t_eq) * decay, decay

    # -- learning the parameters ----------------------------------------------

    def _window_reset(self, ts: float | None, temperature_c: float | None) -> None:
        self.w_start_ts, self.w_start_c = ts, temperature_c
        self.w_prev_dtheta = None
        self.w_heat, self.w_diff, self.w_fan_diff = 0.0, 0.0, 0.0

    def _learn(
        self,
        *,
        ts: float,
        temperature_c: float,
        ambient_c: float,
        heat_j: float,
        fan_s: float,
        dt: float,
    ) -> None:
        """Add one reading's share to the window; fit the window once it is full."""
        c = self.config
        if self.w_start_ts is None or self.w_start_c is None or dt > c.stale_s:
            self._window_reset(ts, temperature_c)
            return

        # Integrate the regressors (trapezoid for the temperature difference,
        # the inputs as held since the last reading).
        dtheta = temperature_c - ambient_c
        prev = dtheta if self.w_prev_dtheta is None else self.w_prev_dtheta
        mean = 0.5 * (prev + dtheta)
        self.w_heat += heat_j
        self.w_diff += mean * dt
        self.w_fan_diff += mean * fan_s
        self.w_prev_dtheta = dtheta
        span_s = ts - self.w_start_ts
        if span_s < c.window_s:
            return

        # One equation per window: T_end - T_start = a*Sq - b*Sd - c*Sf.
        kf = self.params
        drift = (c.drift_pct_per_h / 100.0) ** 2 * span_s / 3600.0
        kf.predict(q=kf.x * kf.x * DRIFT_SHARE * drift)
        h = self._h_params
        h[0], h[1], h[2] = self.w_heat / KJ, -self.w_diff / KJ, -self.w_fan_diff / KJ
        y = temperature_c - self.w_start_c
        relearn = (
            self.rejected_since is not None and ts - self.rejected_since > RELEARN_S
        )
        _, _, applied = kf.update(
            h, y, 2 * c.temperature_noise_c**2, gate=None if relearn else GATE
        )
        if applied:
            self.windows += 1
            self.rejected_since = None
        elif self.rejected_since is None:
            self.rejected_since = ts
        self._window_reset(ts, temperature_c)
        self.w_prev_dtheta = dtheta

    # -- what if ---------------------------------------------------------------

    def what_if(
        self,
        inputs: Mapping[str, float],
        horizon_s: float,
        *,
        environment: Mapping[str, float] | None = None,
        step_s: float = 60.0,
    ) -> Forecast:
        """Forecast temperature and power with inputs held, from the current state.

        ``inputs`` names the heater and fan actuators; ``environment`` may
        hold the ambient point's name and ``load_w`` as constants. Without
        them, ambient and load follow their learned daily profiles from
        their present values (or stay at those values until a whole day has
        been seen). Raises ``CommandError`` for an unknown name, a horizon
        or step that is not positive, or a twin that has seen no readings.
        """
        c = self.config
        env = dict(environment or {})
        heater, fan = self._what_if_inputs(inputs)
        for name in env:
            if name not in (c.ambient, LOAD):
                raise CommandError(
                    f"what-if: environment {name!r} is not modelled "
                    f"(allowed: {c.ambient}, {LOAD})"
                )
        if not horizon_s > 0 or not step_s > 0:
            raise CommandError(
                f"what-if: horizon_s {horizon_s:g} and step_s {step_s:g} "
                "must be above 0"
            )
        if self.temperature_c is None or self.t_last is None or self.ambient_c is None:
            raise CommandError(
                "what-if: the thermal twin has no recent temperature and ambient readings"
            )

        # Times from now, and the environment along them.
        n = math.ceil(horizon_s / step_s - 1e-9)
        times = np.minimum(np.arange(n + 1) * step_s, horizon_s)
        t0 = self.t_last
        ambient = follow(
            self.ambient_profile, self.ambient_c, env.get(c.ambient), t0, times
        )
        load = follow(self.load_profile, self.load_w, env.get(LOAD), t0, times)

        # Integrate, inputs held over each step, environment at its midpoint.
        temps = np.empty(n + 1)
        temps[0] = self.temperature_c
        for i in range(n):
            dt = float(times[i + 1] - times[i])
            amb = 0.5 * (ambient[i] + ambient[i + 1])
            q_w = 0.5 * (load[i] + load[i + 1]) + self.heater_w * heater
            temps[i + 1], _ = self.step(float(temps[i]), dt, q_w, amb, fan)
        power = load + self.heater_w * heater + self.fan_power_w * fan
        series = {c.temperature: temps, c.power: power, c.ambient: ambient, LOAD: load}
        used = {k: v for k, v in ((c.heater, heater), (c.fan, fan)) if k}
        return Forecast(times_s=times, series=series, inputs=used)

    def _what_if_inputs(self, inputs: Mapping[str, float]) -> tuple[float, float]:
        c = self.config
        heater, fan = self.heater, self.fan
        known = [k for k in (c.heater, c.fan) if k]
        for name, value in inputs.items():
            if name and name == c.heater:
                heater = 1.0 if float(value) >= 0.5 else 0.0
            elif name and name == c.fan:
                fan = min(1.0, max(0.0, float(value)))
            else:
                allowed = ", ".join(known) or "none"
                raise CommandError(
                    f"what-if: input {name!r} is not an actuator of the thermal twin "
                    f"(allowed: {allowed})"
                )
        return heater, fan

    # -- persistence -------------------------------------------------------------

    def mapping(self) -> dict[str, str]:
        c = self.config
        return {
            "temperature": c.temperature,
            "ambient": c.ambient,
            "power": c.power,
            "heater": c.heater,
            "fan": c.fan,
        }

    def state(self) -> dict[str, Any]:
        """Everything learned, as plain JSON-able values."""
        return {
            "mapping": self.mapping(),
            "params": self.params.x.tolist(),
            "params_cov": self.params.P.tolist(),
            "power": self.power.x.tolist(),
            "power_cov": self.power.P.tolist(),
            "power_started": self.power_started,
            "temperature_c": self.temperature_c,
            "temperature_var": self.temperature_var,
            "t_last": self.t_last,
            "ambient_c": self.ambient_c,
            "ambient_ts": self.ambient_ts,
            "heater": self.heater,
            "fan": self.fan,
            "held": [self.held_heater, self.held_fan],
            "windows": self.windows,
            "ambient_profile": self.ambient_profile.state(),
            "load_profile": self.load_profile.state(),
        }

    def load(self, data: Mapping[str, Any]) -> None:
        """Restore what ``state`` returned; raises ValueError when it does not fit."""
        if data.get("mapping") != self.mapping():
            raise ValueError(
                f"it maps {data.get('mapping')}, the configuration {self.mapping()}"
            )
        self.params.x[:] = np.asarray(data["params"], dtype=float)
        self.params.P[:] = np.asarray(data["params_cov"], dtype=float)
        self.power.x[:] = np.asarray(data["power"], dtype=float)
        self.power.P[:] = np.asarray(data["power_cov"], dtype=float)
        self.power_started = bool(data["power_started"])
        self.temperature_c = _opt(data["temperature_c"])
        self.temperature_var = float(data["temperature_var"])
        self.t_last = _opt(data["t_last"])
        self.t_power = self.t_last
        self.ambient_c = _opt(data["ambient_c"])
        self.ambient_ts = _opt(data["ambient_ts"])
        self.heater, self.fan = float(data["heater"]), float(data["fan"])
        self.held_heater, self.held_fan = (float(v) for v in data["held"])
        self.windows = int(data["windows"])
        self.ambient_profile.load(data["ambient_profile"])
        self.load_profile.load(data["load_profile"])
        self._window_reset(None, None)


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)
