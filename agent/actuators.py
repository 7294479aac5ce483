"""Drive the configured actuators; every write goes through ``Actuators.write``.

This is the one door to the outputs: whatever asks for a value (a policy,
a technician, the cloud, the shutdown path), the write is made here, with
its reason recorded as an ``Actuation``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from agent.clock import Clock
from agent.config.schema import ActuatorConfig
from agent.control.envelope import Decision, Envelope
from agent.errors import CommandError, DeviceError
from agent.reading import Reading
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
        self.envelopes = {a.name: Envelope(a) for a in actuators}
        # The latest reading of every point, for interlocks; the controller
        # stage keeps it pointing at the sampler's.
        self.readings: Mapping[str, Reading] = {}
        self.written = 0
        self.last_write_perf = 0.0

    def write(
        self,
        name: str,
        value: float,
        *,
        source: str,
        reason: str,
        data: dict[str, Any] | None = None,
        inputs: Mapping[str, Reading] | None = None,
        fail_safe: bool = False,
    ) -> Actuation | None:
        """Write ``value`` to actuator ``name``; return the recorded actuation.

        The actuator's safety envelope decides what is written (see
        ``agent.control.envelope``): ``inputs`` are the readings the value was
        decided on, for the stale-data guard; ``fail_safe`` (implied by the
        source ``safe-state``) asks for the fail-safe value. Every clamp the
        envelope applied, and a read-back that differs from the value
        written, is listed in the actuation's ``data["clamps"]``. Returns
        None, after logging once, when the device fails or does not answer.
        Raises ``CommandError`` for an actuator that is not configured.
        """
        cfg = self.configs.get(name)
        if cfg is None:
            known = ", ".join(sorted(self.configs)) or "none are configured"
            raise CommandError(f"actuator {name!r} is not configured (known: {known})")
        now = self.clock.now()
        envelope = self.envelopes[name]
        decision = envelope.decide(
            value,
            now,
            readings=self.readings,
            inputs=inputs,
            fail_safe=fail_safe or source == "safe-state",
        )
        target = decision.value
        worker = self.workers[cfg.device]
        try:
            fut = worker.pool.submit(worker.device.write, cfg, target)
            readback = float(fut.result(timeout=worker.config.timeout_s))
        except (DeviceError, FutureTimeout, OSError) as exc:
            st = self.state[name]
            if st.ok:
                log.warning(
                    "actuator %r: write of %g failed: %s",
                    name,
                    target,
                    exc or "timeout",
                )
            st.ok = False
            return None
        st = self.state[name]
        if not st.ok:
            log.warning("actuator %r: writes succeed again", name)
        clamps = [c.as_dict() for c in decision.clamps]
        if abs(readback - target) > envelope.config.readback_tolerance:
            clamps.append(
                {
                    "rule": "readback",
                    "requested": target,
                    "allowed": readback,
                    "detail": f"the device reads back {readback:g} after a write of {target:g}",
                }
            )
            log.warning("actuator %r: wrote %g, read back %g", name, target, readback)
        envelope.commit(readback, now)
        st.ok, st.value, st.ts = True, readback, now
        record = dict(data or {})
        record["clamps"] = clamps
        record["protective"] = decision.protective
        act = Actuation(
            ts=now,
            actuator=name,
            value=readback,
            requested=float(value),
            source=source,
            reason=reason,
            data=record,
        )
        self.pending.append(act)
        self.written += 1
        self.last_write_perf = time.perf_counter()
        return act

    def plan(
        self,
        name: str,
        value: float,
        *,
        inputs: Mapping[str, Reading] | None = None,
        fail_safe: bool = False,
    ) -> Decision:
        """Return what ``write`` would send to the device now, without writing."""
        return self.envelopes[name].decide(
            value,
            self.clock.now(),
            readings=self.readings,
            inputs=inputs,
            fail_safe=fail_safe,
        )

    def safe_state(self, reason: str) -> list[str]:
        """Put every actuator at its safe value; return the names that failed."""
        failed = []
        for cfg in self.configs.values():
            if (
                self.write(cfg.name, cfg.safe_value, source="safe-state", reason=reason)
                is None
            ):
                failed.append(cfg.name)
        return failed

    def take_actuations(self) -> list[Actuation]:
        out, self.pending = self.pending, []
        return out
