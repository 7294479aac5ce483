"""Drive the configured actuators; every write goes through ``Actuators.write``.

This is the one door to the outputs: whatever asks for a value (a policy,
a technician, the cloud, the shutdown path), the write is made here, with
its reason recorded as an ``Actuation``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from agent.clock import Clock
from agent.config.schema import ActuatorConfig
from agent.errors import DeviceError
from agent.sampler import DeviceWorker
from agent.store.store import Actuation

log = logging.getLogger(__name__)


@dataclass
class ActuatorState:
    """The last value written to an actuator and when."""

    value: float | None = None
    ts: float | None = None
    ok: bool = True


class Actuators:
    """Writes to actuators through their devices' workers, bounded by the device timeout."""

    def __init__(
        self,
        actuators: Sequence[ActuatorConfig],
        workers: Mapping[str, DeviceWorker],
        clock: Clock,
    ) -> None:
        self.configs = {a.name: a for a in actuators}
        self.workers = workers
        self.clock = clock
        self.state = {a.name: ActuatorState() for a in actuators}
        self.pending: list[Actuation] = []

    def write(
        self,
        name: str,
        value: float,
        *,
        source: str,
        reason: str,
        data: dict[str, Any] | None = None,
    ) -> Actuation | None:
        """Write ``value`` to actuator ``name``; return the recorded actuation.

        A value outside the actuator's range is clamped to it. Returns None,
        after logging once, when the device fails or does not answer.
        """
        cfg = self.configs[name]
        now = self.clock.now()
        target = min(cfg.max, max(cfg.min, float(value)))
        worker = self.workers[cfg.device]
        try:
            fut = worker.pool.submit(worker.device.write, cfg, target)
            readback = float(fut.result(timeout=worker.config.timeout_s))
        except (DeviceError, FutureTimeout, OSError) as exc:
            st = self.state[name]
            if st.ok:
                log.warning("actuator %r: write of %g failed: %s", name, target, exc or "timeout")
            st.ok = False
            return None
        st = self.state[name]
        if not st.ok:
            log.warning("actuator %r: writes succeed again", name)
        st.ok, st.value, st.ts = True, readback, now
        act = Actuation(
            ts=now,
            actuator=name,
            value=readback,
            requested=float(value),
            source=source,
            reason=reason,
            data=dict(data or {}),
        )
        self.pending.append(act)
        return act

    def safe_state(self, reason: str) -> list[str]:
        """Put every actuator at its safe value; return the names that failed."""
        failed = []
        for cfg in self.configs.values():
            if self.write(cfg.name, cfg.safe_value, source="safe-state", reason=reason) is None:
                failed.append(cfg.name)
        return failed

    def take_actuations(self) -> list[Actuation]:
        out, self.pending = self.pending, []
        return out
