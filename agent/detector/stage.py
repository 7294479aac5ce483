"""The detector stage: rows from each frame's readings and residuals, scored.

A row holds, for each feature of the bundle, the latest good value of a
point, the twin's residual of it (``residual:POINT``) or a hidden quantity
the twin estimates (``hidden:NAME``, such as ``hidden:fan_conductance_w_k``).
The twin reports a hidden quantity only while the data pins it down: in
between, the row keeps its last reported value, and until the first report
(a fan that has run at one duty only leaves its conductance unknown) the
centre the detector normalises it with, so that it neither adds to the
score nor stops the other features from being scored. One row is taken per
``period_s`` of the bundle. A row with a feature missing is skipped; the
gap is logged once when it starts and once when it ends.
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
HIDDEN = "hidden:"


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
    # Whether a hidden quantity not reported yet stands at the centre of its
    # normalisation (else the row is skipped).
    centre_unknown_hidden = True

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
        self._start_rows()
        self._started_ts: float | None = None

    def _start_rows(self) -> None:
        """Start taking rows afresh: the next frame gives one."""
        self._next_row_ts: float | None = None
        self._gap: list[str] = []
        self._hidden_last: dict[str, float] = {}
        self._hidden_waiting: set[str] = set()

    def row(self, frame: Frame) -> list[float] | None:
        """Return this frame's feature row, or None when a feature has no value."""
        values: list[float] = []
        missing: list[str] = []
        for i, f in enumerate(self.meta.features):
            if f.startswith(RESIDUAL):
                est = frame.estimates.get(f[len(RESIDUAL) :])
                v = None if est is None else est.residual
            elif f.startswith(HIDDEN):
                v = self._hidden(frame, i, f[len(HIDDEN) :])
            else:
                r = frame.latest.get(f)
                v = r.value if r is not None and r.ok else None
            if v is None or not math.isfinite(v):
                missing.append(f)
            else:
                values.append(float(v))
        self._note_gap(frame.ts, missing)
        return None if missing else values

    def _hidden(self, frame: Frame, i: int, name: str) -> float | None:
        """This frame's value of hidden quantity ``name`` (feature ``i``).

        The twin's value, else the last one it reported, else the centre the
        detector normalises feature ``i`` with (None if not so configured).
        """
        v = frame.hidden.get(name)
        if v is not None and math.isfinite(v):
            if name in self._hidden_waiting:
                self._hidden_waiting.discard(name)
                log.info("detector: the twin now reports %s (%.4g)", name, v)
            self._hidden_last[name] = float(v)
            return float(v)
        last = self._hidden_last.get(name)
        if last is not None or not self.centre_unknown_hidden:
            return last
        centre = float(self.detector.mean[i])
        if name not in self._hidden_waiting:
            self._hidden_waiting.add(name)
            log.info(
                "detector: the twin does not report %s yet; held at %.4g until it does",
                name,
                centre,
            )
        return centre

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
