"""Close the loop on the simulated plant and measure how well a policy holds the band.

``run_week`` runs the real agent (sim driver, sampler, controller, envelope,
SQLite store) on a simulated clock for days of plant time, and reports the
share of time the cabinet spent inside its temperature band, the number of
switchings per actuator, and the controller's latency and cost. The
predictive policy is given ``PlantForecaster``, a forecaster that integrates
the plant's own physics from its present state: it stands in for the twin
and is the best forecast a twin could give.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from agent.clock import Clock, SimClock
from agent.config.control import (
    HysteresisConfig,
    PidConfig,
    PolicyConfig,
    PredictiveConfig,
)
from agent.config.schema import Config
from agent.control.controller import Controller
from agent.runtime import Agent
from agent.twin.forecast import Forecast
from drivers.sim.plant import Plant


class PlantForecaster:
    """What-if forecasts from the simulated plant's own physics and present state."""

    def __init__(self, plant: Plant, clock: Clock) -> None:
        self.plant = plant
        self.clock = clock

    def what_if(
        self,
        inputs: Mapping[str, float],
        horizon_s: float,
        *,
        environment: Mapping[str, float] | None = None,
        step_s: float = 60.0,
    ) -> Forecast:
        """Integrate a copy of the plant with ``inputs`` held over the horizon."""
        now = self.clock.now()
        src = self.plant
        src.advance_to(now)
        assert src.state is not None
        p = Plant(params=src.params, faults=src.faults, seed=0, max_step_s=step_s)
        p.state = replace(src.state)
        p.t0_s = src.t0_s
        if "heater" in inputs:
            p.set_heater(now, inputs["heater"] >= 0.5)
        if "fan" in inputs:
            p.set_fan(now, inputs["fan"])
        times_s = np.arange(0.0, horizon_s + step_s / 2, step_s)
        temps = np.empty_like(times_s)
        for i, t in enumerate(times_s):
            p.advance_to(now + float(t))
            temps[i] = p.state.cabinet_c
        return Forecast(times_s, {"cabinet_temp_c": temps}, dict(inputs))


@dataclass
class WeekResult:
    """How one policy did over the run."""

    policy: str
    days: float
    in_band_pct: float
    low_c: float
    high_c: float
    min_c: float
    max_c: float
    switchings: dict[str, int]
    writes: int
    clamps: int
    fan_energy_kwh: float
    heater_energy_kwh: float
    latency_ms: list[float] = field(default_factory=list)

    def row(self) -> str:
        sw = ", ".join(f"{k} {v}" for k, v in sorted(self.switchings.items()))
        return (
            f"{self.policy:<11} in band {self.in_band_pct:5.1f} %  "
            f"({self.min_c:.1f} to {self.max_c:.1f} °C)  switchings: {sw}  "
            f"writes {self.writes}  clamps {self.clamps}  "
            f"heater {self.heater_energy_kwh:.2f} kWh  fan {self.fan_energy_kwh:.2f} kWh"
        )


def run_week(
    config: Config,
    *,
    fan_policy: PolicyConfig | None = None,
    days: float = 7.0,
    period_s: float = 30.0,
    band_c: tuple[float, float] = (18.0, 35.0),
    state_dir: str | Path | None = None,
) -> WeekResult:
    """Run the agent with ``fan_policy`` for ``days`` and measure the band held.

    Every point is polled each ``period_s``; the heater keeps the policy
    the configuration gives it.
    """
    policies = dict(config.control.policies)
    if fan_policy is not None:
        policies["fan"] = fan_policy
    cfg = replace(
        config,
        points=tuple(replace(p, period_s=period_s) for p in config.points),
        control=replace(
            config.control, enabled=False, policies=tuple(policies.items())
        ),
    )
    clock = SimClock()
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(cfg, clock, state_dir=state_dir or tmp)
        try:
            return _loop(
                agent,
                cfg=cfg,
                clock=clock,
                days=days,
                band_c=band_c,
                fan_policy=policies.get("fan"),
            )
        finally:
            agent.shutdown("simulation ended")


def _loop(
    agent: Agent,
    *,
    cfg: Config,
    clock: SimClock,
    days: float,
    band_c: tuple[float, float],
    fan_policy: PolicyConfig | None,
) -> WeekResult:
    plant: Plant = agent.driver_ctx.shared["plant"]
    controller = Controller(
        replace(cfg, control=replace(cfg.control, enabled=True)),
        clock,
        agent.actuators,
        forecaster=PlantForecaster(plant, clock),
    )
    i = [s.name for s in agent.stages].index("controller")
    agent.stages[i] = controller
    agent.actuators.safe_state("simulation starting")

    start = clock.now()
    end = start + days * 86400.0
    inside = total = 0
    lo_c, hi_c = band_c
    temps: list[float] = []
    switches = dict.fromkeys(agent.actuators.configs, 0)
    last_on: dict[str, bool] = {}
    writes = clamps = 0
    latency_ms: list[float] = []
    heater_j = fan_j = 0.0
    prev_t = start
    while True:
        due = agent.sampler.next_due()
        if due >= end:
            break
        clock.sleep_until(due)
        written = agent.actuators.written
        t_wall = time.perf_counter()
        frame = agent.cycle(due)
        if agent.actuators.written > written:
            latency_ms.append((agent.actuators.last_write_perf - t_wall) * 1000)

        # The plant's truth, not the sensor's view.
        assert plant.state is not None
        dt = due - prev_t
        prev_t = due
        heater_j += plant.params.heater_w * plant.state.heater_on * dt
        fan_j += plant.params.fan_power_w * plant.state.fan_duty * dt
        t_c = plant.state.cabinet_c
        temps.append(t_c)
        total += 1
        inside += lo_c <= t_c <= hi_c
        for a in frame.actuations:
            writes += 1
            clamps += len(a.data.get("clamps", []))
            on = agent.actuators.envelopes[a.actuator].is_on(a.value)
            if a.actuator in last_on and last_on[a.actuator] != on:
                switches[a.actuator] += 1
            last_on[a.actuator] = on
    return WeekResult(
        policy=fan_policy.kind if fan_policy is not None else "none",
        days=days,
        in_band_pct=100.0 * inside / max(1, total),
        low_c=lo_c,
        high_c=hi_c,
        min_c=float(min(temps)),
        max_c=float(max(temps)),
        switchings=switches,
        writes=writes,
        clamps=clamps,
        fan_energy_kwh=fan_j / 3.6e6,
        heater_energy_kwh=heater_j / 3.6e6,
        latency_ms=latency_ms,
    )


BAND_C = (20.0, 38.0)

# The fan policies compared on the demo plant; the heater keeps the
# configuration's hysteresis.
DEMO_FAN_POLICIES: tuple[PolicyConfig, ...] = (
    HysteresisConfig("cabinet_temp_c", on_at=36.0, off_at=32.0),
    PidConfig("cabinet_temp_c", setpoint=34.0, kp=0.2, ki=0.0005, reverse=True),
    PredictiveConfig(
        "cabinet_temp_c",
        low=20.0,
        high=37.0,
        candidates=(0.0, 0.25, 0.5, 0.75, 1.0),
        horizon_s=900.0,
        step_s=60.0,
        interval_s=60.0,
    ),
)
