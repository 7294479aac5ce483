"""A learned daily profile: the typical value of a quantity at each hour of the day."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

DAY_S = 86_400.0


class DailyProfile:
    """Hourly bins of a running mean, read back by interpolating across bins.

    Each bin averages what it saw; past ``memory`` observations it forgets
    old days exponentially. Hours are UTC hours of the agent clock's epoch
    time. ``ready`` is true once every bin has been seen.
    """

    def __init__(self, bins: int = 24, memory: int = 2000) -> None:
        self.bins = bins
        self.memory = memory
        self.values = [0.0] * bins
        self.counts = [0] * bins

    def _pos(self, t_s: float) -> float:
        return (t_s % DAY_S) / DAY_S * self.bins

    def add(self, t_s: float, value: float) -> None:
        """Fold one observation taken at ``t_s`` into its bin."""
        i = int(self._pos(t_s)) % self.bins
        n = min(self.counts[i] + 1, self.memory)
        self.counts[i] = n
        self.values[i] += (value - self.values[i]) / n

    @property
    def ready(self) -> bool:
        return all(self.counts)

    def at(self, t_s: float) -> float:
        """The profile at ``t_s``, linear between bin centres (wrapping at midnight)."""
        pos = self._pos(t_s) - 0.5
        lo = math.floor(pos)
        frac = pos - lo
        a = self.values[lo % self.bins]
        b = self.values[(lo + 1) % self.bins]
        return a + (b - a) * frac

    def state(self) -> dict[str, Any]:
        return {"values": list(self.values), "counts": list(self.counts)}

    def load(self, data: dict[str, Any]) -> None:
        values, counts = list(data["values"]), list(data["counts"])
        if len(values) != self.bins or len(counts) != self.bins:
            raise ValueError(f"profile has {len(values)} bins, expected {self.bins}")
        self.values = [float(v) for v in values]
        self.counts = [int(c) for c in counts]


def follow(
    profile: DailyProfile,
    now_value: float,
    fixed: float | None,
    t0_s: float,
    times_s: np.ndarray,
) -> np.ndarray:
    """A quantity along ``times_s`` from ``t0_s``: ``fixed`` if given, else its profile.

    The profile's shape is shifted to pass through ``now_value``; until the
    profile has seen a whole day the value stays at ``now_value``.
    """
    if fixed is not None:
        return np.full(times_s.shape, float(fixed))
    if not profile.ready:
        return np.full(times_s.shape, now_value)
    base = profile.at(t0_s)
    return np.array([now_value + profile.at(t0_s + t) - base for t in times_s])
