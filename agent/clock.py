"""Injected time: a real clock for the daemon, a simulated one for tests and replays."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What the runtime needs of time.

    ``now()`` is seconds since the Unix epoch. ``sleep_until`` returns early,
    with False, when ``stop`` is set.
    """

    def now(self) -> float: ...

    def sleep_until(self, t: float, stop: threading.Event | None = None) -> bool: ...


class RealClock:
    """Wall-clock time; waits are measured on the monotonic clock."""

    def now(self) -> float:
        return time.time()

    def sleep_until(self, t: float, stop: threading.Event | None = None) -> bool:
        # The delay is taken once from wall time; the wait itself runs on the
        # monotonic clock, so a wall-clock step does not stretch it.
        delay = t - time.time()
        if delay <= 0:
            return not (stop and stop.is_set())
        if stop is None:
            time.sleep(delay)
            return True
        return not stop.wait(delay)


class SimClock:
    """Simulated time that starts at ``start`` and advances only when slept on.

    With ``speed`` set, each simulated second also costs ``1 / speed`` real
    seconds, so that a demo can be watched; with ``speed=None`` time jumps
    straight to each deadline and hours pass in seconds.

    The schedule belongs to the thread that first sleeps on the clock (the
    agent's loop). Another thread that sleeps, such as a device worker
    waiting out a sensor's conversion time, moves only its own view of time
    forward: the agent's timestamps, and so a whole simulated run, do not
    depend on how the threads happened to interleave.
    """

    def __init__(self, start: float = 1_767_225_600.0, speed: float | None = None):
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self._now = float(start)
        self._speed = speed
        self._lock = threading.Lock()
        self._real_origin = time.monotonic()
        self._sim_origin = self._now
        self._owner: int | None = None
        self._local = threading.local()

    def now(self) -> float:
        with self._lock:
            shared = self._now
        return max(shared, getattr(self._local, "t", shared))

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` at once (tests use this)."""
        with self._lock:
            self._now += seconds

    def sleep_until(self, t: float, stop: threading.Event | None = None) -> bool:
        if stop is not None and stop.is_set():
            return False
        if self._speed is not None:
            real_due = self._real_origin + (t - self._sim_origin) / self._speed
            delay = real_due - time.monotonic()
            if delay > 0:
                if stop is not None:
                    if stop.wait(delay):
                        return False
                else:
                    time.sleep(delay)
        me = threading.get_ident()
        with self._lock:
            if self._owner is None:
                self._owner = me
            if me == self._owner:
                self._now = max(self._now, t)
                return True
        self._local.t = max(self.now(), t)
        return True


class PacedClock:
    """Simulated time that jumps to each deadline until ``pace`` is called, then flows.

    A day offline is simulated by jumping (no real waiting); what follows,
    such as draining a backlog to a real broker, must run in a time base
    consistent with the broker's acknowledgements: after ``pace(speed)``
    agent time flows at ``speed`` times real time, so that a late cycle
    shows its lag.
    """

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
