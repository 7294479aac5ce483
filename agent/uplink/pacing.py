"""A simulated clock that jumps through an outage, then runs at a multiple of real time.

An outage of a day is simulated by jumping from deadline to deadline (no
real waiting). What follows, draining the backlog to a real broker, has to
run in a time base consistent with the broker's acknowledgements: after
``pace(speed)`` agent time flows continuously at ``speed`` times real time,
so that an acknowledgement that takes 1 ms of real time takes ``speed`` ms
of agent time, and a cycle that starts late shows its lag.
"""

from __future__ import annotations

import threading
import time


class PacedClock:
    """Simulated time: jumps to each deadline until ``pace`` is called, then flows."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self._lock = threading.Lock()
        self._now = float(start)
        self._speed: float | None = None
        self._real_origin = 0.0

    @property
    def speed(self) -> float | None:
        return self._speed

    def pace(self, speed: float | None) -> None:
        """From now on run at ``speed`` times real time; None jumps again."""
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        with self._lock:
            self._now = self._read()
            self._speed = speed
            self._real_origin = time.monotonic()

    def now(self) -> float:
        with self._lock:
            return self._read()

    def _read(self) -> float:
        if self._speed is None:
            return self._now
        return self._now + (time.monotonic() - self._real_origin) * self._speed

    def sleep_until(self, t: float, stop: threading.Event | None = None) -> bool:
        if stop is not None and stop.is_set():
            return False
        with self._lock:
            speed = self._speed
            if speed is None:
                self._now = max(self._now, t)
                return True
            delay_s = (t - self._read()) / speed
        if delay_s > 0:
            if stop is not None:
                return not stop.wait(delay_s)
            time.sleep(delay_s)
        return True
