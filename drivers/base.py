"""The small interface every device driver offers the runtime."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agent.clock import Clock
from agent.reading import Sample

if TYPE_CHECKING:
    from agent.config.checker import Table
    from agent.config.schema import ActuatorConfig, Config, DeviceConfig, PointConfig


class Device(Protocol):
    """An open device. Calls come from one worker thread at a time.

    ``read`` returns one ``Sample`` per point, in order; a failure becomes a
    sample with a bad quality, never an exception, except for a bug.
    ``write`` drives an actuator and returns the value read back (or the
    value written where the device cannot be read back); it raises
    ``DeviceError`` when the write fails.
    """

    name: str

    def read(self, points: Sequence[PointConfig]) -> list[Sample]: ...

    def write(self, actuator: ActuatorConfig, value: float) -> float: ...

    def close(self) -> None: ...


@dataclass
class DriverContext:
    """What drivers may share while one agent runs: the clock and shared objects.

    ``shared`` holds objects that several devices use, such as the simulated
    plant behind the emulated chips; ``closers`` are called in reverse order
    when the agent stops.
    """

    clock: Clock
    config: Config
    shared: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get_shared(self, key: str, factory: Any) -> Any:
        """Return the shared object ``key``, making it with ``factory()`` once."""
        with self.lock:
            if key not in self.shared:
                self.shared[key] = factory()
            return self.shared[key]


class DriverKind(Protocol):
    """A kind of device (``sim``, ``modbus-tcp``, ...) as the configuration sees it.

    The parse methods read the kind's own keys from a table and return typed,
    immutable settings; problems go to the table's problem list.
    """

    name: str
    min_period_s: float

    def parse_device(self, t: Table) -> Any: ...

    def parse_point(self, t: Table, device: DeviceConfig) -> Any: ...

    def parse_actuator(self, t: Table, device: DeviceConfig) -> Any: ...

    def open(self, device: DeviceConfig, ctx: DriverContext) -> Device: ...
