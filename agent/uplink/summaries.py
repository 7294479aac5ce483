"""Per-window summaries: per point count, min, max, mean, last and quality counts.

The sections other stages fill in the frame (twin estimates and hidden
state, anomaly, actuations, insights) are carried along when present and
left out otherwise. Windows are aligned to multiples of ``window_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from agent.pipeline import Frame


@dataclass
class PointStats:
    """Running statistics of one point in one window."""

    n: int = 0
    lo: float = math.inf
    hi: float = -math.inf
    total: float = 0.0
    last: float | None = None
    quality: dict[str, int] = field(default_factory=dict)

    def add(self, value: float | None, quality: str) -> None:
        self.quality[quality] = self.quality.get(quality, 0) + 1
        if value is None or quality != "good" or not math.isfinite(value):
            return
        self.n += 1
        self.lo = min(self.lo, value)
        self.hi = max(self.hi, value)
        self.total += value
        self.last = value

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n": self.n, "q": self.quality}
        if self.n:
            out.update(
                min=_r(self.lo),
                max=_r(self.hi),
                mean=_r(self.total / self.n),
                last=_r(self.last),
            )
        return out


def _r(x: float | None) -> float:
    # Six significant digits: finer than any sensor here, and compact JSON.
    return float(f"{x:.6g}") if x is not None else 0.0


class Summarizer:
    """Accumulate frames; ``add`` returns the body of the window that just closed."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.start: float | None = None
        self._points: dict[str, PointStats] = {}
        self._estimates: dict[str, dict[str, float]] = {}
        self._hidden: dict[str, float] = {}
        self._anomaly: dict[str, Any] = {}
        self._anomaly_max = -math.inf
        self._actuators: dict[str, dict[str, Any]] = {}
        self._insights: list[str] = []

    def add(self, frame: Frame) -> dict[str, Any] | None:
        """Add one frame; return the closed window's summary when this frame opens a new one."""
        closed = None
        if self.start is None:
            self.start = self._align(frame.ts)
        elif frame.ts >= self.start + self.window_s:
            closed = self.close()
            self.start = self._align(frame.ts)

        for r in frame.readings:
            stats = self._points.get(r.point)
            if stats is None:
                stats = self._points[r.point] = PointStats()
            stats.add(r.value, r.quality.label)
        for point, est in frame.estimates.items():
            prev = self._estimates.get(point, {}).get("max_abs_z", 0.0)
            self._estimates[point] = {
                "expected": _r(est.expected),
                "residual": _r(est.residual),
                "z": _r(est.z),
                "max_abs_z": _r(max(prev, abs(est.z))),
            }
        self._hidden.update({k: _r(v) for k, v in frame.hidden.items()})
        if frame.anomaly:
            self._anomaly = dict(frame.anomaly)
            score = frame.anomaly.get("score")
            if isinstance(score, int | float):
                self._anomaly_max = max(self._anomaly_max, float(score))
        for a in frame.actuations:
            st = self._actuators.setdefault(a.actuator, {"value": 0.0, "writes": 0})
            st["value"] = _r(a.value)
            st["writes"] += 1
        for text in frame.insights:
            if text not in self._insights:
                self._insights.append(text)
        return closed

    def close(self, end: float | None = None) -> dict[str, Any] | None:
        """Return the open window's summary and start afresh; None if nothing was added.

        ``end`` cuts the window short (the agent stopping); by default it
        ends ``window_s`` after its start.
        """
        if self.start is None or (not self._points and not self._actuators):
            return None
        full_end = self.start + self.window_s
        body: dict[str, Any] = {
            "window": {
                "start": self.start,
                "end": full_end if end is None else min(end, full_end),
            },
            "points": {p: s.as_dict() for p, s in sorted(self._points.items())},
        }
        twin: dict[str, Any] = {}
        if self._estimates:
            twin["estimates"] = self._estimates
        if self._hidden:
            twin["hidden"] = self._hidden
        if twin:
            body["twin"] = twin
        if self._anomaly:
            anomaly = dict(self._anomaly)
            if self._anomaly_max > -math.inf:
                anomaly["max_score"] = self._anomaly_max
            body["anomaly"] = anomaly
        if self._actuators:
            body["actuators"] = self._actuators
        if self._insights:
            body["insights"] = self._insights
        self._points, self._estimates, self._actuators = {}, {}, {}
        self._anomaly, self._anomaly_max, self._insights = {}, -math.inf, []
        # Hidden quantities are a state, not a window's events: keep the last.
        return body

    def _align(self, ts: float) -> float:
        return math.floor(ts / self.window_s) * self.window_s
