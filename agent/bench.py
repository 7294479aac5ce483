"""Benchmarks of the whole pipeline on the reference workload.

The reference workload is 50 points at 1 Hz. It runs on a simulated clock
as fast as the machine allows; CPU time is then scaled to what one core
would spend at the real rate.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from agent.clock import SimClock
from agent.config import Config, parse_config
from agent.runtime import Agent

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
)


def reference_config(state_dir: str, points: int = 50, period_s: float = 1.0) -> Config:
    """The reference workload on the simulated plant: ``points`` points at ``1 / period_s`` Hz."""
    lines = [
        "[agent]",
        f'state_dir = "{state_dir}"',
        "[[devices]]",
        'name = "plant"',
        'kind = "sim"',
    ]
    for i in range(points):
        lines += [
            "[[points]]",
            f'name = "p{i:02d}"',
            'device = "plant"',
            f'address = "{SIGNALS[i % len(SIGNALS)]}"',
            f"period_s = {period_s}",
        ]
    return parse_config("\n".join(lines), "<reference workload>")


def _written_bytes() -> int:
    """Bytes this process passed to write() so far (Linux ``wchar``)."""
    try:
        with open(f"/proc/{os.getpid()}/io") as f:
            for line in f:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class PipelineResult:
    """What one pipeline benchmark measured."""

    points: int
    rate_hz: float
    sim_hours: float
    wall_s: float
    cpu_per_cycle_ms: float
    cpu_pct_of_core: float
    rss_mb: float
    commits_per_hour: float
    db_bytes_written_per_hour: float
    db_file_mb: float
    readings: int

    def rows(self) -> list[tuple[str, str]]:
        return [
            (
                "workload",
                f"{self.points} points at {self.rate_hz:g} Hz, {self.sim_hours:g} h simulated",
            ),
            ("wall time", f"{self.wall_s:.1f} s"),
            ("CPU per cycle", f"{self.cpu_per_cycle_ms:.3f} ms"),
            ("CPU, share of one core", f"{self.cpu_pct_of_core:.2f} %"),
            ("resident memory", f"{self.rss_mb:.1f} MB"),
            ("commits per hour", f"{self.commits_per_hour:.0f}"),
            (
                "bytes written per hour",
                f"{self.db_bytes_written_per_hour / 1e6:.2f} MB",
            ),
            ("database after run", f"{self.db_file_mb:.2f} MB"),
            ("readings stored", f"{self.readings}"),
        ]


def pipeline(
    hours: float = 1.0,
    points: int = 50,
    rate_hz: float = 1.0,
    make_config: Callable[[str, int, float], Config] = reference_config,
    progress: Callable[[str], None] | None = None,
) -> PipelineResult:
    """Run the reference workload for ``hours`` of simulated time and measure it."""
    with tempfile.TemporaryDirectory(prefix="edgetwin-bench-") as tmp:
        config = make_config(tmp, points, 1.0 / rate_hz)
        clock = SimClock(start=1_767_225_600.0)
        agent = Agent(config, clock, state_dir=tmp)
        proc = psutil.Process()
        if progress:
            progress(f"running {hours:g} h of {points} points at {rate_hz:g} Hz ...")
        w0, c0, t0 = _written_bytes(), proc.cpu_times(), time.perf_counter()
        agent.run(hours * 3600.0)
        w1, c1, t1 = _written_bytes(), proc.cpu_times(), time.perf_counter()
        rss = proc.memory_info().rss
        cpu = (c1.user - c0.user) + (c1.system - c0.system)
        cycles = max(1, agent.stats.cycles)
        db = Path(tmp) / config.store.path
        db_mb = db.stat().st_size / 1e6 if db.exists() else 0.0
        per_cycle = cpu / cycles
        return PipelineResult(
            points=points,
            rate_hz=rate_hz,
            sim_hours=hours,
            wall_s=t1 - t0,
            cpu_per_cycle_ms=per_cycle * 1000,
            cpu_pct_of_core=per_cycle * rate_hz * 100,
            rss_mb=rss / 1e6,
            commits_per_hour=agent.store.stats.commits / hours,
            db_bytes_written_per_hour=(w1 - w0) / hours,
            db_file_mb=db_mb,
            readings=agent.store.stats.readings_committed,
        )
