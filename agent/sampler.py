"""Poll every point on its own period without letting one device hold up another.

Each device has one worker thread; a read is submitted to it and waited for
up to the device's timeout. A device still busy with an earlier read when
its points fall due again gets readings of quality ``BUSY`` at once, so a
hung bus costs the cycle at most one timeout, once, and never delays the
other devices' points.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from agent.config.schema import DeviceConfig, PointConfig
from agent.reading import Quality, Reading, Sample
from agent.store.store import Event
from drivers.base import Device

log = logging.getLogger(__name__)


@dataclass
class DeviceHealth:
    """A device's state as the sampler sees it."""

    ok: bool = True
    failures: int = 0
    last_reason: str = ""


class DeviceWorker:
    """One thread that runs a device's reads and writes one at a time."""

    def __init__(self, config: DeviceConfig, device: Device) -> None:
        self.config = config
        self.device = device
        self.pool = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"dev-{config.name}"
        )
        self.inflight: Future[list[Sample]] | None = None

    @property
    def busy(self) -> bool:
        return self.inflight is not None and not self.inflight.done()

    def submit_read(self, points: Sequence[PointConfig]) -> Future[list[Sample]]:
        fut = self.pool.submit(self.device.read, points)
        self.inflight = fut
        return fut

    def close(self) -> None:
        # Close first so that a read blocked on the device returns.
        try:
            self.device.close()
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)


class Sampler:
    """Decides which points are due and turns device samples into readings."""

    def __init__(
        self,
        points: Sequence[PointConfig],
        workers: Mapping[str, DeviceWorker],
        start: float,
    ) -> None:
        self.points = list(points)
        self.workers = workers
        self.health = {name: DeviceHealth() for name in workers}
        self.latest: dict[str, Reading] = {}
        # Due times sit on each point's period grid from the start.
        self._due = {p.name: start for p in self.points}
        self.events: list[Event] = []

    def next_due(self) -> float:
        return min(self._due.values()) if self._due else math.inf

    def poll(self, now: float) -> list[Reading]:
        """Read every point due at ``now``; never raises for a device fault."""
        by_device: dict[str, list[PointConfig]] = defaultdict(list)
        for p in self.points:
            if self._due[p.name] <= now + 1e-9:
                by_device[p.device].append(p)
                # Skip missed grid slots instead of bursting to catch up.
                n = max(1, math.floor((now - self._due[p.name]) / p.period_s) + 1)
                self._due[p.name] += n * p.period_s

        # Submit to every free device first, then wait: the waits overlap.
        started: list[tuple[str, list[PointConfig], Future[list[Sample]]]] = []
        readings: list[Reading] = []
        for dev, pts in by_device.items():
            worker = self.workers[dev]
            if worker.busy:
                readings += self._bad(
                    now, pts, Quality.BUSY, "previous read still running"
                )
                self._device_failed(now, dev, "busy: previous read still running")
                continue
            started.append((dev, pts, worker.submit_read(pts)))

        t_start = time.monotonic()
        for dev, pts, fut in started:
            timeout = self.workers[dev].config.timeout_s
            remaining = max(0.0, timeout - (time.monotonic() - t_start))
            try:
                samples = fut.result(timeout=remaining)
            except FutureTimeout:
                readings += self._bad(
                    now, pts, Quality.TIMEOUT, f"no answer within {timeout:g} s"
                )
                self._device_failed(now, dev, f"no answer within {timeout:g} s")
                continue
            except Exception as exc:  # a driver bug must not end the cycle
                log.exception("device %r: read raised", dev)
                readings += self._bad(
                    now, pts, Quality.DEVICE_ERROR, f"driver error: {exc}"
                )
                self._device_failed(now, dev, f"driver error: {exc}")
                continue
            readings += [
                self._convert(now, p, s) for p, s in zip(pts, samples, strict=True)
            ]
            if any(s.quality is Quality.GOOD for s in samples):
                self._device_ok(now, dev)
            else:
                self._device_failed(
                    now, dev, samples[0].reason if samples else "no samples"
                )

        for r in readings:
            self.latest[r.point] = r
        return readings

    def _convert(self, now: float, p: PointConfig, s: Sample) -> Reading:
        if s.quality is not Quality.GOOD or s.value is None:
            return Reading(
                now,
                p.name,
                None,
                s.quality if s.value is None else Quality.DECODE_ERROR,
                s.reason,
            )
        if not math.isfinite(s.value):
            return Reading(
                now, p.name, None, Quality.DECODE_ERROR, f"device gave {s.value}"
            )
        value = s.value * p.scale + p.offset
        if not p.valid_min <= value <= p.valid_max:
            return Reading(
                now,
                p.name,
                value,
                Quality.OUT_OF_RANGE,
                f"{value:g} outside {p.valid_min:g} to {p.valid_max:g}",
            )
        return Reading(now, p.name, value)

    @staticmethod
    def _bad(
        now: float, pts: Sequence[PointConfig], q: Quality, reason: str
    ) -> list[Reading]:
        return [Reading(now, p.name, None, q, reason) for p in pts]

    def _device_failed(self, now: float, dev: str, reason: str) -> None:
        h = self.health[dev]
        h.failures += 1
        h.last_reason = reason
        if h.ok:
            h.ok = False
            log.warning("device %r not answering: %s", dev, reason)
            self.events.append(
                Event(
                    now,
                    "fault",
                    f"device {dev!r} not answering: {reason}",
                    "warning",
                    dev,
                )
            )

    def _device_ok(self, now: float, dev: str) -> None:
        h = self.health[dev]
        if not h.ok:
            log.warning(
                "device %r answering again after %d failed polls", dev, h.failures
            )
            self.events.append(
                Event(
                    now,
                    "fault_cleared",
                    f"device {dev!r} answering again after {h.failures} failed polls",
                    "info",
                    dev,
                    {"failures": h.failures},
                )
            )
            h.ok = True
            h.failures = 0

    def take_events(self) -> list[Event]:
        out, self.events = self.events, []
        return out
