"""Put every actuator at its fail-safe value from outside the running agent.

The service manager calls this after the agent exits, however it exited: a
clean stop already left the outputs safe, a crash or SIGKILL did not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from agent.actuators import Actuators
from agent.clock import Clock
from agent.config.schema import Config
from agent.control.explain import fmt_value
from agent.errors import EdgetwinError, StoreError
from agent.runtime import store_path
from agent.sampler import DeviceWorker
from agent.store.store import Event, Store
from drivers.base import DriverContext
from drivers.registry import kinds

log = logging.getLogger(__name__)

REASON = "edgetwin safe-state"


@dataclass(frozen=True)
class SafeResult:
    """One actuator's outcome: the value read back, or why it failed."""

    actuator: str
    safe_value: float
    readback: float | None
    shown: str

    def line(self) -> str:
        if self.readback is None:
            return f"{self.actuator}: FAILED to set {self.shown}"
        return f"{self.actuator}: {self.shown} (read back {self.readback:g})"


def apply_safe_state(
    config: Config,
    clock: Clock,
    state_dir: str | Path,
    *,
    ctx: DriverContext | None = None,
) -> list[SafeResult]:
    """Write every actuator's safe value; record it in the store when it opens.

    The devices are opened on ``ctx`` (default: a new one), so a caller
    may give them objects to share, such as the simulated plant. Raises
    ``EdgetwinError`` naming the actuators that could not be set, after
    trying every one.
    """
    ctx = ctx or DriverContext(clock=clock, config=config)
    workers: dict[str, DeviceWorker] = {}
    used = {a.device for a in config.actuators}
    results: list[SafeResult] = []
    try:
        known = kinds()
        for dev in config.devices:
            if dev.name in used:
                workers[dev.name] = DeviceWorker(dev, known[dev.kind].open(dev, ctx))
        acts = Actuators(config.actuators, workers, clock)
        failed = set(acts.safe_state(REASON))
        for a in config.actuators:
            st = acts.state[a.name]
            rb = None if a.name in failed else st.value
            results.append(
                SafeResult(a.name, a.safe_value, rb, fmt_value(a.safe_value, a))
            )
        _record(config, state_dir, acts, clock.now())
    finally:
        for w in workers.values():
            w.close()
    if failed:
        raise EdgetwinError(
            "safe-state: could not set "
            + ", ".join(sorted(failed))
            + " (see the log above)"
        )
    return results


def _record(config: Config, state_dir: str | Path, acts: Actuators, now: float) -> None:
    path = store_path(config, state_dir)
    try:
        with Store(path, config.store) as store:
            for a in acts.take_actuations():
                store.add_actuation(a)
                store.add_event(
                    Event(
                        a.ts,
                        "actuation",
                        f"{a.actuator} set to its fail-safe value {a.value:g}: {REASON}",
                        source="safe-state",
                        data={
                            "actuator": a.actuator,
                            "value": a.value,
                            "source": a.source,
                        },
                    )
                )
    except (StoreError, OSError) as exc:
        log.warning("safe-state not recorded: %s", exc)
