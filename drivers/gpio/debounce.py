"""Debounce a digital input on the injected clock.

A new level counts only once the raw level has held it for ``bounce_s``;
shorter blips (contact bounce, noise) are ignored. Edges are reported by
the pin backend as they happen; the settled level is also checked when the
input is read, so a level that has held long enough is seen even if no
edge has come since.
"""

from __future__ import annotations

import threading

from agent.clock import Clock


class Debouncer:
    """The settled level of one input and how many times it became active."""

    def __init__(self, clock: Clock, bounce_s: float, level: bool) -> None:
        self.clock = clock
        self.bounce_s = bounce_s
        self.level = level
        self.activations = 0
        self._raw = level
        self._raw_since = clock.now()
        self._lock = threading.Lock()

    def _settle(self, now: float) -> None:
        if self._raw != self.level and now - self._raw_since >= self.bounce_s:
            self.level = self._raw
            if self.level:
                self.activations += 1

    def edge(self, level: bool) -> None:
        """Take a raw level change reported by the pin backend."""
        with self._lock:
            now = self.clock.now()
            self._settle(now)
            if level != self._raw:
                self._raw = level
                self._raw_since = now
            self._settle(now)

    def read(self) -> tuple[bool, int]:
        """Return the settled level and the count of activations so far."""
        with self._lock:
            self._settle(self.clock.now())
            return self.level, self.activations
