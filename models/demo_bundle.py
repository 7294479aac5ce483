"""Build the demo plant's bundle from a fault-free closed-loop run of the default.

The default configuration (simulated plant on its emulated drivers, thermal
twin, closed-loop control) runs on a simulated clock with the plant's
faults removed; a recording stage after the others takes one row of
features per ``period_s``, built exactly as the detector stage builds its
rows. The rows are fitted and quantized as ``models.train`` does. The
plant's noise is seeded by time, the clock is simulated and the fit is in
closed form, so the same code gives the same bundle, byte for byte.

Run it with ``python -m models.demo_bundle OUTDIR``.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from agent.clock import SimClock
from agent.config import default_text, parse_config
from agent.config.schema import Config
from agent.detector.bundle import Metadata
from agent.detector.stage import HIDDEN, DetectorStage
from agent.pipeline import Frame
from agent.runtime import Agent
from models.train import TrainOptions, fit_and_write

log = logging.getLogger(__name__)

# What the detector watches: the twin's residuals catch a fan that stops, a
# door left open and a drifting sensor; the fan's current and the readings
# the twin is driven by give the context they are judged in. A filter that
# clogs over hours is learned by the twin as the cabinet's new normal, so it
# leaves the residuals alone; it shows in the fan conductance the twin
# estimates, which the closed loop pins down within hours (the fan runs at
# several duties every day).
FEATURES = (
    "residual:cabinet_temp_c",
    "residual:power_w",
    "cabinet_temp_c",
    "ambient_temp_c",
    "power_w",
    "fan_current_a",
    "door_open",
    "hidden:fan_conductance_w_k",
)
# A hidden quantity is normalised by at least this share of its mean: the
# twin reports it only once it knows it this well, and the floor keeps its
# slow wander in the fault-free run from becoming a principal direction of
# the fit, so that a lasting change in it shows in the reconstruction error.
HIDDEN_SPREAD_SHARE = 0.05
OPTIONS = TrainOptions(window=10, period_s=60.0, variance=0.9, margin=3.0, seed=0)
# Days of fault-free plant time the model is fitted on, and the hours the
# twin needs first to settle on the cabinet's constants.
DAYS = 3.0
SETTLE_H = 6.0
# Every point is polled this often in the recorded run (the bundle's period).
POINT_PERIOD_S = 60.0
START_TS = 1_767_225_600.0


def fault_free_config(
    point_period_s: float | None = POINT_PERIOD_S, text: str | None = None
) -> Config:
    """Return the default configuration without the plant's faults or a detector.

    With ``point_period_s`` every point is polled that often.
    """
    text = default_text() if text is None else text
    text, n = re.subn(r"faults = \[.*?\n\]", "faults = []", text, flags=re.S)
    if n != 1:
        raise ValueError("the default configuration has no plant faults to remove")
    config = parse_config(text, "<default without faults>")
    points = config.points
    if point_period_s is not None:
        points = tuple(replace(p, period_s=point_period_s) for p in points)
    return replace(config, points=points, model=replace(config.model, enabled=False))


class RecordingStage(DetectorStage):
    """Keeps the rows the detector stage would score, one per ``period_s``."""

    name = "recorder"
    # Rows are recorded only once the twin reports every hidden quantity.
    centre_unknown_hidden = False

    def __init__(self, features: Sequence[str], period_s: float) -> None:
        n = len(features)
        self.meta = Metadata(
            tuple(features), 1, period_s, (0.0,) * n, (1.0,) * n, 1.0, "0" * 64
        )
        self._start_rows()
        self.times: list[float] = []
        self.rows: list[list[float]] = []

    def process(self, frame: Frame) -> None:
        if self._next_row_ts is not None and frame.ts < self._next_row_ts - 1e-9:
            return
        self._next_row_ts = frame.ts + self.meta.period_s
        row = self.row(frame)
        if row is not None:
            self.times.append(frame.ts)
            self.rows.append(row)


def record(
    config: Config,
    days: float,
    features: Sequence[str] = FEATURES,
    period_s: float = OPTIONS.period_s,
    start_ts: float = START_TS,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Run the agent for ``days`` on a simulated clock; return row times and rows."""
    recorder = RecordingStage(features, period_s)
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(config, SimClock(start=start_ts), state_dir=tmp)
        agent.stages.append(recorder)
        agent.run(days * 86400.0)
    if agent.stats.stage_errors:
        raise RuntimeError(
            f"the recorded run had {agent.stats.stage_errors} stage errors; see the log"
        )
    return np.asarray(recorder.times), np.asarray(recorder.rows, dtype=np.float64)


def spreads(
    rows: npt.NDArray[np.float64], features: Sequence[str]
) -> npt.NDArray[np.float64]:
    """Each feature's normalisation spread: its standard deviation over ``rows``.

    A hidden quantity's spread is at least ``HIDDEN_SPREAD_SHARE`` of its mean.
    """
    std = np.maximum(rows.std(axis=0), 1e-6)
    for i, name in enumerate(features):
        if name.startswith(HIDDEN):
            std[i] = max(std[i], HIDDEN_SPREAD_SHARE * abs(float(rows[:, i].mean())))
    return std


def build(
    out_dir: Path, days: float = DAYS, options: TrainOptions = OPTIONS
) -> Metadata:
    """Record a fault-free run, fit, quantize and write the bundle; return its metadata."""
    times, rows = record(fault_free_config(), days, FEATURES, options.period_s)
    rows = rows[times >= START_TS + SETTLE_H * 3600.0]
    return fit_and_write(
        out_dir,
        FEATURES,
        rows,
        spreads(rows, FEATURES),
        options=options,
        trained_on=f"fault-free closed-loop run of the default configuration: {days:g} days, "
        f"points every {POINT_PERIOD_S:g} s, first {SETTLE_H:g} h left out, "
        f"{len(rows)} rows; hidden quantities' spread at least "
        f"{HIDDEN_SPREAD_SHARE:.0%} of their mean",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.demo_bundle",
        description="Rebuild the demo plant's bundle from a fault-free simulated run. "
        "Example: python -m models.demo_bundle models/demo",
    )
    parser.add_argument("out_dir", type=Path, help="bundle directory to write")
    parser.add_argument("--days", type=float, default=DAYS, help="plant days to record")
    args = parser.parse_args(argv)
    meta = build(args.out_dir, args.days)
    print(f"wrote {args.out_dir}: {meta.trained_on}, threshold {meta.threshold:.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
