"""The detector proper: windows, on-device normalisation and threshold, hysteresis.

Rows of features arrive one per period. During the learning period the
detector only collects them; at its end it learns each feature's centre and
spread, scores every learning window and sets the threshold a margin above
the highest smoothed score it saw. From then on each row yields a score, a
threshold and whether an anomaly is active.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from agent.detector.bundle import Metadata
from agent.detector.events import Hysteresis

# A feature whose spread was zero while learning still needs a divisor.
MIN_STD = 1e-6
# Scale of the median absolute deviation that matches the standard deviation
# of normally distributed values.
MAD_TO_STD = 1.4826
# A robust spread is kept at least this share of the plain standard deviation,
# so a feature that sits still for most of its learning period (MAD near 0)
# does not turn its first small movement into a huge normalised value.
ROBUST_FLOOR = 0.1


def normalisation(
    rows: npt.NDArray[np.float64], robust: bool
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return each feature's centre and spread over the learning ``rows``.

    Plain: mean and standard deviation. Robust: median and scaled median
    absolute deviation (floored at a tenth of the standard deviation), so a
    few outlying learning rows neither shift the centre nor widen the spread.
    """
    std = rows.std(axis=0)
    if not robust:
        return rows.mean(axis=0), np.maximum(std, MIN_STD)
    med = np.median(rows, axis=0)
    mad = MAD_TO_STD * np.median(np.abs(rows - med), axis=0)
    return med, np.maximum(mad, np.maximum(ROBUST_FLOOR * std, MIN_STD))


class Scorer(Protocol):
    """Something that scores one normalised window (rows x features)."""

    def score(
        self, window: npt.NDArray[np.floating[Any]]
    ) -> tuple[float, npt.NDArray[np.float32]]: ...


@dataclass(frozen=True)
class Tuning:
    """How scores become alarms.

    ``learn_rows`` rows are collected before anything is scored (0 uses the
    bundle's normalisation and threshold as they are). The threshold is
    ``margin`` times the highest smoothed learning score. ``ewma_alpha``
    smooths the score (1 keeps it raw). ``onset_n`` rows above start an
    anomaly and ``clear_n`` rows below end it. ``robust`` learns the
    normalisation as median and median absolute deviation (see
    ``normalisation``) instead of mean and standard deviation.
    """

    learn_rows: int = 400
    margin: float = 1.5
    ewma_alpha: float = 1.0
    onset_n: int = 1
    clear_n: int = 1
    top_n: int = 3
    robust: bool = False


@dataclass(frozen=True)
class Result:
    """What one row gave: the smoothed score against its threshold."""

    score: float
    threshold: float
    active: bool
    change: Literal["start", "end"] | None
    top: tuple[str, ...]


class Detector:
    """Score rows of features with a model or the statistical fallback."""

    def __init__(
        self,
        meta: Metadata,
        scorer: Scorer,
        tuning: Tuning,
        source: Literal["tflite", "statistical"],
    ) -> None:
        self.meta = meta
        self.scorer = scorer
        self.tuning = tuning
        self.source = source
        self.mean = np.asarray(meta.mean, dtype=np.float64)
        self.std = np.asarray(meta.std, dtype=np.float64)
        self.threshold = meta.threshold
        self.window: deque[npt.NDArray[np.float64]] = deque(maxlen=meta.window)
        self.learning: list[npt.NDArray[np.float64]] | None = (
            [] if tuning.learn_rows > 0 else None
        )
        self.smoothed: float | None = None
        self.alarm = Hysteresis(tuning.onset_n, tuning.clear_n)

    @property
    def learned(self) -> bool:
        return self.learning is None

    def push(self, row: npt.ArrayLike) -> Result | None:
        """Feed one row of raw feature values; return a result once learned."""
        raw = np.asarray(row, dtype=np.float64)
        if self.learning is not None:
            self.learning.append(raw)
            if len(self.learning) >= self.tuning.learn_rows:
                self._calibrate(np.stack(self.learning))
                self.learning = None
            return None

        self.window.append((raw - self.mean) / self.std)
        if len(self.window) < self.meta.window:
            return None
        score, per_feature = self.scorer.score(np.stack(self.window))
        smoothed = self._smooth(score)
        change = self.alarm.update(smoothed > self.threshold)
        order = np.argsort(per_feature)[::-1][: self.tuning.top_n]
        top = tuple(self.meta.features[i] for i in order)
        return Result(
            smoothed,
            self.threshold,
            self.alarm.active,
            None if change is None else ("start" if change else "end"),
            top,
        )

    def _smooth(self, score: float) -> float:
        a = self.tuning.ewma_alpha
        self.smoothed = (
            score if self.smoothed is None else a * score + (1 - a) * self.smoothed
        )
        return self.smoothed

    def _calibrate(self, rows: npt.NDArray[np.float64]) -> None:
        """Learn normalisation and threshold from the learning rows."""
        self.mean, self.std = normalisation(rows, self.tuning.robust)
        z = (rows - self.mean) / self.std
        w = self.meta.window
        highest = 0.0
        for end in range(w, len(z) + 1):
            highest = max(highest, self._smooth(self.scorer.score(z[end - w : end])[0]))
        if highest > 0:
            self.threshold = highest * self.tuning.margin
        # The live window continues from the learning rows, so scoring starts
        # with the first row after learning.
        self.window.extend(z[-(w - 1) :] if w > 1 else [])
