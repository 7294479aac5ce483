"""Turn a score above or below its threshold into anomaly intervals, with hysteresis."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Hysteresis:
    """An alarm set by ``onset_n`` rows above, cleared by ``clear_n`` rows below.

    One row above the threshold in a quiet stretch does not start an
    anomaly, nor does one row below end it.
    """

    onset_n: int = 1
    clear_n: int = 1
    active: bool = False
    _above: int = 0
    _below: int = 0

    def update(self, above: bool) -> bool | None:
        """Feed one row; return True when an anomaly starts, False when it ends."""
        if above:
            self._above += 1
            self._below = 0
        else:
            self._below += 1
            self._above = 0
        if not self.active and self._above >= self.onset_n:
            self.active = True
            return True
        if self.active and self._below >= self.clear_n:
            self.active = False
            return False
        return None
