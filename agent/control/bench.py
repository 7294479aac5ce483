"""Benchmarks of the control path: envelope cost, sense-to-actuate latency, a week's band."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from agent.config import default_config
from agent.control.envelope import Envelope
from agent.control.simulate import BAND_C, DEMO_FAN_POLICIES, WeekResult, run_week
from agent.reading import Reading


@dataclass
class ControlBench:
    """The figures ``edgetwin bench control`` prints."""

    envelope_us_per_decision: float
    decisions: int
    latency_p50_ms: float
    latency_p99_ms: float
    latency_samples: int
    weeks: list[WeekResult] = field(default_factory=list)


def envelope_cost(decisions: int = 100_000) -> tuple[float, int]:
    """Time ``Envelope.decide`` on the demo fan's envelope; microseconds per decision."""
    cfg = default_config()
    env = Envelope(cfg.actuator("fan"))
    env.commit(0.5, 0.0)
    rng = np.random.default_rng(1)
    values = rng.uniform(-0.2, 1.2, decisions).tolist()
    readings = {"cabinet_temp_c": Reading(0.0, "cabinet_temp_c", 30.0)}
    t0 = time.perf_counter()
    for i, v in enumerate(values):
        env.decide(v, float(i), readings=readings, inputs=readings)
    return (time.perf_counter() - t0) / decisions * 1e6, decisions


def control(*, days: float = 7.0, period_s: float = 30.0) -> ControlBench:
    """Run the envelope micro-benchmark and a simulated week per fan policy."""
    us, n = envelope_cost()
    weeks = [
        run_week(
            default_config(), fan_policy=p, days=days, period_s=period_s, band_c=BAND_C
        )
        for p in DEMO_FAN_POLICIES
    ]
    lat = np.array([x for w in weeks for x in w.latency_ms] or [0.0])
    return ControlBench(
        envelope_us_per_decision=us,
        decisions=n,
        latency_p50_ms=float(np.percentile(lat, 50)),
        latency_p99_ms=float(np.percentile(lat, 99)),
        latency_samples=int(lat.size),
        weeks=weeks,
    )
