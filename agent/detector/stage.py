"""The detector stage: rows from each frame's readings and residuals, scored.

A row holds, for each feature of the bundle, the latest good value of a
point or the twin's residual of it (``residual:POINT``). One row is taken
per ``period_s`` of the bundle. A row with a feature missing is skipped;
the gap is logged once when it starts and once when it ends.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np

from agent.config.model import ModelConfig
from agent.detector.bundle import Metadata, read_bundle
from agent.detector.detector import Detector, Scorer, Tuning
from agent.detector.errors import RuntimeMissingError
from agent.detector.model import Int8Model
from agent.detector.runtime import RUNTIMES
from agent.detector.statistical import StatisticalScorer
from agent.pipeline import Frame
from agent.store.store import Event

log = logging.getLogger(__name__)

DEMO_BUNDLE = Path(__file__).resolve().parents[2] / "models" / "demo"
RESIDUAL = "residual:"


def load_scorer(
    directory: Path, runtimes: tuple[str, ...] = RUNTIMES
) -> tuple[Metadata, Scorer, Literal["tflite", "statistical"]]:
    """Load the bundle's model, or fall back to the statistical score without a runtime.

    Raises ``ModelError`` for a wrong bundle either way.
    """
    try:
        model = Int8Model(directory, runtimes)
        return model.meta, model, "tflite"
    except RuntimeMissingError as exc:
        _, meta = read_bundle(directory)
        log.warning("%s; scoring with the statistical fallback instead", exc)
        return meta, StatisticalScorer(), "statistical"


class DetectorStage:
    """Scores anomalies and raises ``anomaly_start`` / ``anomaly_end`` events."""

    name = "detector"

    def __init__(
        self, config: ModelConfig, runtimes: tuple[str, ...] = RUNTIMES
    ) -> None:
        directory = Path(config.bundle) if config.bundle else DEMO_BUNDLE
        meta, scorer, source = load_scorer(directory, runtimes)
        learn_rows = math.ceil(config.learn_s / meta.period_s)
        tuning = Tuning(
            learn_rows=learn_rows,
            margin=config.margin,
            ewma_alpha=config.ewma_alpha,
            onset_n=config.onset_n,
            clear_n=config.clear_n,
            robust=config.robust_norm,
        )
        self.detector = Detector(meta, scorer, tuning, source)
        self.meta = meta
        self._next_row_ts: float | None = None
        self._gap: list[str] = []
        self._started_ts: float | None = None

    def row(self, frame: Frame) -> list[float] | None:
        """Return this frame's feature row, or None when a feature has no value."""
        values: list[float] = []
        missing: list[str] = []
        for f in self.meta.features:
            if f.startswith(RESIDUAL):
                est = frame.estimates.get(f[len(RESIDUAL) :])
                v = None if est is None else est.residual
            else:
                r = frame.latest.get(f)
                v = r.value if r is not None and r.ok else None
            if v is None or not math.isfinite(v):
                missing.append(f)
            else:
                values.append(float(v))
        self._note_gap(frame.ts, missing)
        return None if missing else values

    def _note_gap(self, ts: float, missing: list[str]) -> None:
        if missing and not self._gap:
            log.warning("detector paused: no good value for %s", ", ".join(missing))
        elif self._gap and not missing:
            log.warning("detector resumed: %s back", ", ".join(self._gap))
        self._gap = missing

    def process(self, frame: Frame) -> None:
        if self._next_row_ts is not None and frame.ts < self._next_row_ts - 1e-9:
            return
        self._next_row_ts = frame.ts + self.meta.period_s
        row = self.row(frame)
        if row is None:
            return
        result = self.detector.push(np.asarray(row))
        det = self.detector
        if result is None:
            frame.anomaly = {
                "score": 0.0,
                "threshold": det.threshold,
                "active": False,
                "source": det.source,
                "top": [],
                "learning": not det.learned,
            }
            return
        frame.anomaly = {
            "score": result.score,
            "threshold": result.threshold,
            "active": result.active,
            "source": det.source,
            "top": list(result.top),
        }
        if result.change == "start":
            self._started_ts = frame.ts
            frame.events.append(self._event(frame.ts, "anomaly_start", result.top, {}))
        elif result.change == "end":
            extra: dict[str, Any] = {}
            if self._started_ts is not None:
                extra["duration_s"] = frame.ts - self._started_ts
            frame.events.append(self._event(frame.ts, "anomaly_end", result.top, extra))
            self._started_ts = None

    def _event(
        self, ts: float, kind: str, top: tuple[str, ...], extra: dict[str, Any]
    ) -> Event:
        a = self.detector
        verb = "started" if kind == "anomaly_start" else "ended"
        score = a.smoothed or 0.0
        return Event(
            ts,
            kind,
            f"anomaly {verb}: score {score:.3g} against threshold "
            f"{a.threshold:.3g}, most from {', '.join(top)}",
            "warning" if kind == "anomaly_start" else "info",
            "detector",
            {
                "score": score,
                "threshold": a.threshold,
                "top": list(top),
                "source": a.source,
                **extra,
            },
        )

    def close(self) -> None:
        return None
