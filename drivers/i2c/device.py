"""An open I2C device as the runtime sees it: retries, set-up and bad-quality samples.

A chip driver raises ``OSError`` when the bus fails (errno 121 when the chip
does not acknowledge). Here such a failure is retried up to the device's
``retries``; after that every point of the read gets a ``DEVICE_ERROR``
sample naming the error, and the chip is set up again on the next read (it
may have lost its configuration in a power glitch). A ``DeviceError`` (a
different chip at the address, a conversion that never ends) is not
retried. ``read`` never raises for a device fault.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from agent.config.schema import ActuatorConfig, PointConfig
from agent.errors import DeviceError
from agent.reading import Quality, Sample
from drivers.i2c.bus import I2CBus

log = logging.getLogger(__name__)


class Chip(Protocol):
    """What a chip driver offers the device: set-up, then readings per address."""

    chip: str
    address: int

    def setup(self) -> None: ...


# Reads the given point addresses from a chip, one sample per address.
Reader = Callable[[Any, Sequence[Any]], list[Sample]]


class I2CDevice:
    """One chip on one bus, read with bounded retries.

    ``on_close`` runs when the device closes (the bus is closed, or the
    emulated chip is taken off the shared emulated bus).
    """

    def __init__(
        self,
        *,
        name: str,
        chip: Chip,
        reader: Reader,
        bus: I2CBus,
        retries: int,
        on_close: Callable[[], None],
    ) -> None:
        self.name = name
        self.chip = chip
        self.reader = reader
        self.bus = bus
        self.retries = retries
        self._on_close: Callable[[], None] | None = on_close
        self._ready = False
        self.attempts = 0

    def _where(self) -> str:
        return f"{self.chip.chip} at 0x{self.chip.address:02x}"

    def read(self, points: Sequence[PointConfig]) -> list[Sample]:
        """Read ``points``; a fault gives bad-quality samples, never an exception."""
        addresses = [p.address for p in points]
        error: OSError | None = None
        for attempt in range(self.retries + 1):
            self.attempts += 1
            try:
                if not self._ready:
                    self.chip.setup()
                    self._ready = True
                return self.reader(self.chip, addresses)
            except DeviceError as exc:
                self._ready = False
                reason = f"{self._where()}: {exc}"
                return [Sample.bad(Quality.DEVICE_ERROR, reason) for _ in points]
            except OSError as exc:
                self._ready = False
                error = exc
                log.debug(
                    "device %r: %s attempt %d failed: %s",
                    self.name,
                    self._where(),
                    attempt + 1,
                    exc,
                )
        reason = (
            f"{self._where()}: I/O error after {self.retries + 1} attempts: {error}"
        )
        return [Sample.bad(Quality.DEVICE_ERROR, reason) for _ in points]

    def write(self, actuator: ActuatorConfig, value: float) -> float:
        """Refuse: sensor chips have no outputs (the configuration forbids them)."""
        raise DeviceError(f"device {self.name!r} ({self.chip.chip}) has no outputs")

    def close(self) -> None:
        """Release the bus or the emulated chip; calling it again does nothing."""
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    def __enter__(self) -> I2CDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
