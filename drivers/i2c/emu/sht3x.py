"""An emulated SHT3x: takes commands, measures on the injected clock, answers with CRCs.

A single-shot command starts a measurement that lasts the datasheet's
typical time; a read before it is done is not acknowledged (errno 121),
as with the real chip when clock stretching is off. The status register
reads 0x0000 after reset. Values come from ``source``, which returns
``temperature_c`` and ``humidity_pct``. ``corrupt_next_crc`` flips the CRC
of the next word sent, to exercise the driver's check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from agent.clock import Clock
from drivers.i2c.emu.chip import EmulatedChip, no_ack
from drivers.i2c.sht3x import CMD_READ_STATUS, crc8

# Single-shot commands (no clock stretching) and their typical duration (s).
TYPICAL_S = {0x2400: 0.0125, 0x240B: 0.0045, 0x2416: 0.0025}
CMD_SOFT_RESET = 0x30A2

Source = Callable[[], Mapping[str, float]]


def raw_temperature(temperature_c: float) -> int:
    """Return the raw word for a temperature, clamped to the chip's range."""
    return min(0xFFFF, max(0, round((temperature_c + 45.0) * 65535.0 / 175.0)))


def raw_humidity(humidity_pct: float) -> int:
    """Return the raw word for a relative humidity, clamped to 0..100 %."""
    return min(0xFFFF, max(0, round(humidity_pct * 65535.0 / 100.0)))


class EmulatedSht3x(EmulatedChip):
    """An SHT3x at the command level, fed by ``source`` on ``clock``."""

    chip = "SHT3x"

    def __init__(self, source: Source, *, clock: Clock) -> None:
        super().__init__()
        self.source = source
        self.clock = clock
        self.status = 0x0000
        self._reply = b""
        self._ready_at: float | None = None
        self._corrupt = 0
        self._address = 0x44
        self.measurements = 0

    def corrupt_next_crc(self, words: int = 1) -> None:
        """Send a wrong CRC with the next ``words`` words."""
        self._corrupt += words

    def begin(self, address: int) -> None:
        super().begin(address)
        self._address = address

    def _frame(self, word: int) -> bytes:
        data = word.to_bytes(2, "big")
        crc = crc8(data)
        if self._corrupt:
            self._corrupt -= 1
            crc ^= 0xFF
        return data + bytes((crc,))

    def on_write(self, data: bytes) -> None:
        if len(data) < 2:
            return
        command = int.from_bytes(data[:2], "big")
        if command in TYPICAL_S:
            self._ready_at = self.clock.now() + TYPICAL_S[command]
            self._reply = b""
        elif command == CMD_READ_STATUS:
            self._reply = self._frame(self.status)
            self._ready_at = None
        elif command == CMD_SOFT_RESET:
            self.status = 0x0000
            self._reply = b""
            self._ready_at = None

    def on_read(self, length: int) -> bytes:
        if self._ready_at is not None:
            if self.clock.now() < self._ready_at:
                raise no_ack(self._address)
            values = self.source()
            self._reply = self._frame(raw_temperature(values["temperature_c"]))
            self._reply += self._frame(raw_humidity(values["humidity_pct"]))
            self._ready_at = None
            self.measurements += 1
        if not self._reply:
            raise no_ack(self._address)
        out, self._reply = self._reply[:length], b""
        return out.ljust(length, b"\xff")
