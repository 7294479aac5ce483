"""Compare the anomaly intervals a replay found with the ones a file labels.

Intervals are half-open row ranges ``[start, end)``. Point-wise counts are
taken on the rows after the learning period only, as in the SKAB protocol:
during learning the detector cannot flag anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.skab import Counts


@dataclass(frozen=True)
class Interval:
    """Rows ``start`` (included) to ``end`` (excluded); ``open`` when it never ended."""

    start: int
    end: int
    open: bool = False

    @property
    def rows(self) -> int:
        return self.end - self.start

    def overlap(self, other: Interval) -> int:
        return max(0, min(self.end, other.end) - max(self.start, other.start))


@dataclass(frozen=True)
class Match:
    """One labelled interval and the detected intervals that overlap it."""

    label: Interval
    detected: tuple[Interval, ...]
    overlap_rows: int

    @property
    def found(self) -> bool:
        return bool(self.detected)

    @property
    def delay_rows(self) -> int | None:
        """Rows from the label's start to the first detection in it (0 if earlier)."""
        if not self.detected:
            return None
        return max(0, min(d.start for d in self.detected) - self.label.start)


@dataclass(frozen=True)
class Comparison:
    """How the detected intervals line up with the labelled ones."""

    matches: tuple[Match, ...]
    false_alarms: tuple[Interval, ...]
    counts: Counts


def intervals(flags: npt.NDArray[np.bool_]) -> list[Interval]:
    """Return the runs of True in ``flags`` as intervals."""
    f = np.concatenate([[False], np.asarray(flags, dtype=bool), [False]])
    edges = np.flatnonzero(f[1:] != f[:-1])
    return [
        Interval(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)
    ]


def flags(found: list[Interval], rows: int) -> npt.NDArray[np.bool_]:
    """Return one flag per row, True inside any of ``found``."""
    out = np.zeros(rows, dtype=bool)
    for iv in found:
        out[iv.start : iv.end] = True
    return out


def compare(
    detected: list[Interval], labels: npt.NDArray[np.bool_], learn_rows: int
) -> Comparison:
    """Match each labelled interval with the detections overlapping it; count points."""
    labelled = intervals(labels)
    matches = []
    for lab in labelled:
        hits = tuple(d for d in detected if d.overlap(lab) > 0)
        matches.append(Match(lab, hits, sum(d.overlap(lab) for d in hits)))
    false_alarms = tuple(
        d for d in detected if not any(d.overlap(lab) > 0 for lab in labelled)
    )
    counts = Counts()
    pred = flags(detected, len(labels))
    counts.add(pred[learn_rows:], np.asarray(labels, dtype=bool)[learn_rows:])
    return Comparison(tuple(matches), false_alarms, counts)
