"""The agent's main loop: sample, run the stages, store, on an injected clock."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent import __version__
from agent.actuators import Actuators
from agent.clock import Clock
from agent.config.schema import Config
from agent.control.explain import explain
from agent.errors import EdgetwinError, StoreError
from agent.pipeline import Frame, Stage
from agent.runlock import AgentLock
from agent.sampler import DeviceWorker, Sampler
from agent.stages import StageContext, build_stages
from agent.store import retention
from agent.store.store import Event, Store
from drivers.base import DriverContext
from drivers.registry import kinds

log = logging.getLogger(__name__)

FINAL_FRAME_STAGES = ("uplink", "insights")


def store_path(config: Config, state_dir: str | Path | None = None) -> Path:
    """Where the database lives: ``store.path`` under the state directory."""
    path = Path(config.store.path)
    if path.is_absolute():
        return path
    return Path(state_dir or config.agent.state_dir) / path


@dataclass
class CycleStats:
    """How well the loop keeps its schedule (lags in seconds of agent time)."""

    cycles: int = 0
    overruns: int = 0
    stage_errors: int = 0
    lags_s: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    work_s: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def summary(self) -> dict[str, float]:
        lags = np.array(self.lags_s) if self.lags_s else np.zeros(1)
        work = np.array(self.work_s) if self.work_s else np.zeros(1)
        return {
            "cycles": self.cycles,
            "overruns": self.overruns,
            "stage_errors": self.stage_errors,
            "lag_p50_ms": float(np.percentile(lags, 50) * 1000),
            "lag_p99_ms": float(np.percentile(lags, 99) * 1000),
            "lag_max_ms": float(lags.max() * 1000),
            "work_p50_ms": float(np.percentile(work, 50) * 1000),
            "work_p99_ms": float(np.percentile(work, 99) * 1000),
        }


class Agent:
    """One running agent: devices, sampler, stages and store.

    Construct it, call ``run()``; ``stop()`` (from a signal handler or
    another thread) ends the loop, after which the store is flushed and
    every actuator is put in its safe state. Raises ``StoreError`` when the
    database cannot be opened or another agent holds it, and
    ``EdgetwinError`` when a device cannot be opened; what was opened before
    is closed again.
    """

    def __init__(
        self,
        config: Config,
        clock: Clock,
        *,
        state_dir: str | Path | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.boot_id = uuid.uuid4().hex[:12]
        self.stop_event = threading.Event()
        self.stats = CycleStats()
        self.workers: dict[str, DeviceWorker] = {}
        self.stages: list[Stage] = []
        self.driver_ctx = DriverContext(clock=clock, config=config)
        self.ran_s = 0.0
        path = store_path(config, state_dir)
        self.lock = AgentLock(path)
        try:
            self.store = Store(path, config.store)
        except BaseException:
            self.lock.release()
            raise
        try:
            known = kinds()
            for dev in config.devices:
                device = known[dev.kind].open(dev, self.driver_ctx)
                self.workers[dev.name] = DeviceWorker(dev, device)
            self.actuators = Actuators(config.actuators, self.workers, clock)
            self.sampler = Sampler(config.points, self.workers, clock.now())
            self.stages = build_stages(
                StageContext(config, clock, self.store, self.actuators, self.boot_id)
            )
        except BaseException:
            self._close_devices()
            self.store.close()
            self.lock.release()
            raise
        self._closed = False
        self._last_retention: float | None = None

    # -- the loop -------------------------------------------------------------

    def run(self, duration_s: float | None = None) -> None:
        """Run until ``stop()`` or until ``duration_s`` of agent time has passed."""
        start = self.clock.now()
        end = None if duration_s is None else start + duration_s
        self._startup(start)
        finished = False
        try:
            while not self.stop_event.is_set():
                due = self.sampler.next_due()
                if end is not None and due >= end:
                    finished = True
                    break
                if not self.clock.sleep_until(due, self.stop_event):
                    break
                self.cycle(due)
        finally:
            # Agent time actually run: all of it, or up to the stop.
            self.ran_s = (
                end if finished and end is not None else self.clock.now()
            ) - start
            self.shutdown("agent stopped")

    def _startup(self, now: float) -> None:
        self.store.set_meta("boot_id", self.boot_id)
        self.store.add_event(
            Event(
                now,
                "agent_started",
                f"edgetwin {__version__} started with {len(self.config.points)} points",
                data={"boot_id": self.boot_id, "config_hash": self.config.text_hash},
            )
        )
        failed = self.actuators.safe_state("agent starting")
        for name in failed:
            log.warning("actuator %r could not be put in its safe state at start", name)

    def cycle(self, due: float) -> Frame:
        """Run one cycle for the points due at ``due``."""
        t_wall = time.perf_counter()
        now = self.clock.now()
        self.stats.lags_s.append(max(0.0, now - due))
        readings = self.sampler.poll(now)
        frame = Frame(ts=now, readings=readings, latest=self.sampler.latest)
        frame.events += self.sampler.take_events()

        for stage in self.stages:
            try:
                stage.process(frame)
            except Exception:  # one broken stage must not stop sampling and storing
                self.stats.stage_errors += 1
                if self.stats.stage_errors == 1 or self.stats.stage_errors % 1000 == 0:
                    log.exception(
                        "stage %r failed (%d so far)",
                        stage.name,
                        self.stats.stage_errors,
                    )
            # Writes a stage made are in the frame for the stages after it
            # (the uplink's summary shows actuator states).
            frame.actuations += self.actuators.take_actuations()

        self._record(frame)
        self.stats.cycles += 1
        self.stats.work_s.append(time.perf_counter() - t_wall)
        if self.clock.now() > self.sampler.next_due():
            self.stats.overruns += 1
        return frame

    def _record(self, frame: Frame) -> None:
        store = self.store
        store.add_readings(frame.readings)
        for e in frame.events:
            store.add_event(e)
        for a in frame.actuations:
            store.add_actuation(a)
        try:
            store.maybe_commit(frame.ts)
            last = self._last_retention
            if last is None or frame.ts - last >= store.config.retention_interval_s:
                self._last_retention = frame.ts
                retention.enforce(store, frame.ts)
        except StoreError as exc:
            # The batch stays buffered; the next commit tries again.
            log.error("%s", exc)

    # -- stopping ---------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to end; safe from a signal handler."""
        self.stop_event.set()

    def shutdown(self, reason: str) -> None:
        """Put actuators in their safe state, flush the store, close everything."""
        if self._closed:
            return
        self._closed = True
        now = self.clock.now()
        failed = self.actuators.safe_state(reason)
        for name in failed:
            log.error("actuator %r could not be put in its safe state", name)

        # A last frame tells upstream what the shutdown did. Only the stages
        # that report see it: the controller must not act after the outputs
        # went safe.
        frame = Frame(ts=now, readings=[], latest=self.sampler.latest)
        frame.actuations = self.actuators.take_actuations()
        frame.events = [
            Event(
                a.ts,
                "actuation",
                explain(a, self.actuators.configs.get(a.actuator)),
                source="safe-state",
                data={"actuator": a.actuator, "value": a.value, "source": a.source},
            )
            for a in frame.actuations
        ]
        frame.events.append(Event(now, "agent_stopped", f"edgetwin stopped: {reason}"))
        for stage in self.stages:
            if stage.name not in FINAL_FRAME_STAGES:
                continue
            try:
                stage.process(frame)
            except Exception:
                log.exception("stage %r failed on the last frame", stage.name)
        self._record_final(frame)
        for stage in self.stages:
            try:
                stage.close()
            except Exception:
                log.exception("stage %r failed to close", stage.name)
        try:
            self.store.close()
        except (StoreError, EdgetwinError) as exc:
            log.error("%s", exc)
        self._close_devices()
        self.lock.release()

    def _record_final(self, frame: Frame) -> None:
        for a in frame.actuations:
            self.store.add_actuation(a)
        for e in frame.events:
            self.store.add_event(e)

    def _close_devices(self) -> None:
        for worker in self.workers.values():
            try:
                worker.close()
            except Exception:
                log.exception("device %r failed to close", worker.config.name)
