"""Run the real agent and its twin on the simulated plant, inputs on a schedule."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent.clock import SimClock
from agent.config import parse_config
from agent.pipeline import Estimate, Frame
from agent.runtime import Agent
from agent.twin.stage import TwinStage
from agent.twin.thermal import ThermalTwin
from drivers.sim.plant import Plant, PlantState

START = 1_767_225_600.0  # 2026-01-01 00:00 UTC

# Heater on/off and fan duty, each held for ``HOLD_S``, repeated: enough
# variety in heat input and conductance to tell C, UA and G apart.
EXCITE = [(0, 1.0), (1, 1.0), (1, 0.3), (0, 0.0), (1, 0.0), (0, 0.6)]
FAN_ALWAYS_ON = [(0, 1.0), (1, 1.0), (1, 0.5), (0, 0.5)]
HOLD_S = 2400.0


def plant_config(
    state_dir: Path,
    *,
    faults: str = "",
    period_s: float = 10.0,
    twin: str = "",
    seed: int = 5,
) -> str:
    """Cabinet and ambient temperature, power, heater, fan and a thermal twin."""
    twin = (
        twin
        or """
[twin]
kind = "thermal"
save_interval_s = 300
[twin.thermal]
temperature = "cabinet_temp_c"
ambient = "ambient_temp_c"
power = "power_w"
heater = "heater"
fan = "fan"
temperature_noise_c = 0.05
power_noise_w = 0.5


"""
    )
    points = "".join(
        f"""
[[points]]
name = "{name}"
device = "plant"
address = "{name}"
period_s = {period_s}
"""
        for name in ("cabinet_temp_c", "ambient_temp_c", "power_w")
    )
    return f"""
[agent]
state_dir = "{state_dir}"
[store]
commit_interval_s = 600
[[devices]]
name = "plant"
kind = "sim"
seed = {seed}
faults = [{faults}]
{points}
[[actuators]]
name = "heater"
device = "plant"
address = "heater"
[[actuators]]
name = "fan"
device = "plant"
address = "fan"
kind = "analog"
safe_value = 1
{twin}
"""


@dataclass
class Recorder:
    """A last stage that keeps what the twin put in each frame."""

    name: str = "recorder"
    ts: list[float] = field(default_factory=list)
    estimates: list[dict[str, Estimate]] = field(default_factory=list)
    hidden: list[dict[str, float]] = field(default_factory=list)

    def process(self, frame: Frame) -> None:
        self.ts.append(frame.ts)
        self.estimates.append(dict(frame.estimates))
        self.hidden.append(dict(frame.hidden))

    def close(self) -> None:
        return None

    def z(self, point: str, t0_h: float, t1_h: float) -> list[float]:
        return [
            e[point].z
            for t, e in zip(self.ts, self.estimates, strict=True)
            if START + t0_h * 3600 <= t < START + t1_h * 3600 and point in e
        ]

    def hidden_at(self, t_h: float) -> dict[str, float]:
        for t, h in zip(self.ts, self.hidden, strict=True):
            if t >= START + t_h * 3600 and h:
                return h
        raise AssertionError(f"no hidden quantities at {t_h} h")


class ScheduleClock(SimClock):
    """A simulated clock that writes the actuators on a schedule as time passes it."""

    def __init__(self, pattern: list[tuple[int, float]]) -> None:
        super().__init__(start=START)
        self.pattern = pattern
        self.agent: Agent | None = None
        self.next_change = START

    def sleep_until(self, t: float, stop: threading.Event | None = None) -> bool:
        while self.agent is not None and self.next_change <= t:
            super().sleep_until(self.next_change, stop)
            k = round((self.next_change - START) / HOLD_S)
            heater, fan = self.pattern[k % len(self.pattern)]
            self.agent.actuators.write(
                "heater", heater, source="test", reason="schedule"
            )
            self.agent.actuators.write("fan", fan, source="test", reason="schedule")
            self.next_change += HOLD_S
        return super().sleep_until(t, stop)


def run_plant(
    state_dir: Path,
    hours: float,
    *,
    pattern: list[tuple[int, float]] = EXCITE,
    faults: str = "",
    twin: str = "",
    seed: int = 5,
) -> tuple[Agent, Recorder]:
    """Run the agent for ``hours``; return it (shut down) and what it recorded."""
    clock = ScheduleClock(pattern)
    agent = Agent(
        parse_config(plant_config(state_dir, faults=faults, twin=twin, seed=seed)),
        clock,
    )
    recorder = Recorder()
    agent.stages.append(recorder)
    clock.agent = agent
    agent.run(hours * 3600.0)
    return agent, recorder


def twin_of(agent: Agent) -> TwinStage:
    stage = agent.stages[0]
    assert isinstance(stage, TwinStage)
    return stage


def thermal_of(agent: Agent) -> ThermalTwin:
    twin = twin_of(agent).twin
    assert isinstance(twin, ThermalTwin)
    return twin


def plant_of(agent: Agent) -> Plant:
    plant = agent.driver_ctx.shared["plant"]
    assert isinstance(plant, Plant)
    return plant


def copy_plant(plant: Plant) -> Plant:
    """A noise-free copy of ``plant`` in its present state, to run ahead on its own."""
    assert plant.state is not None
    twin = Plant(params=plant.params, faults=plant.faults, seed=plant.seed)
    twin.state = PlantState(**vars(replace(plant.state)))
    twin.t0_s = plant.t0_s
    return twin
