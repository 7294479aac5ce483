"""Benchmark of the twin alone: CPU per cycle of the thermal twin and one what-if.

The inputs are the simulated plant's signals at 1 Hz, computed before the
clock starts, so that only the twin's own work is timed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from agent.config.twin import ThermalConfig
from agent.twin.thermal import ThermalInputs, ThermalTwin
from drivers.sim.plant import Plant

START_S = 1_767_225_600.0


@dataclass
class TwinBenchResult:
    """What the twin benchmark measured (times in microseconds of wall time)."""

    cycles: int
    cycle_p50_us: float
    cycle_p99_us: float
    cycle_mean_cpu_us: float
    what_if_ms: float

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("cycles", f"{self.cycles} (thermal twin, 1 Hz, plant signals)"),
            ("per cycle, p50", f"{self.cycle_p50_us:.1f} us"),
            ("per cycle, p99", f"{self.cycle_p99_us:.1f} us"),
            ("per cycle, mean CPU", f"{self.cycle_mean_cpu_us:.1f} us"),
            ("what-if, 2 h at 60 s steps", f"{self.what_if_ms:.2f} ms"),
        ]


def _inputs(cycles: int) -> list[ThermalInputs]:
    plant = Plant(seed=3)
    out = []
    for k in range(cycles):
        t = START_S + k
        heater = float((k // 1800) % 2)
        fan = 0.5 + 0.5 * float((k // 2700) % 2)
        plant.set_heater(t, heater >= 0.5)
        plant.set_fan(t, fan)
        s = plant.signals(t)
        out.append(
            ThermalInputs(
                ts=t,
                temperature_c=s["cabinet_temp_c"],
                ambient_c=s["ambient_temp_c"],
                power_w=s["power_w"],
                heater=heater,
                fan=fan,
            )
        )
    return out


def thermal(cycles: int = 20_000) -> TwinBenchResult:
    """Time ``cycles`` thermal-twin cycles (observe plus hidden quantities)."""
    inputs = _inputs(cycles)
    twin = ThermalTwin(
        ThermalConfig(heater="heater", fan="fan", temperature_noise_c=0.05)
    )
    walls = np.empty(cycles)
    clock = time.perf_counter
    cpu0 = time.process_time()
    for i, inp in enumerate(inputs):
        t0 = clock()
        twin.observe(inp)
        twin.hidden()
        walls[i] = clock() - t0
    cpu = time.process_time() - cpu0
    t0 = clock()
    runs = 20
    for _ in range(runs):
        twin.what_if({"fan": 0.0}, 7200.0, step_s=60.0)
    what_if_s = (clock() - t0) / runs
    return TwinBenchResult(
        cycles=cycles,
        cycle_p50_us=float(np.percentile(walls, 50) * 1e6),
        cycle_p99_us=float(np.percentile(walls, 99) * 1e6),
        cycle_mean_cpu_us=cpu / cycles * 1e6,
        what_if_ms=what_if_s * 1e3,
    )
