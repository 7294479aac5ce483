"""The SHT3x driver: temperature and humidity from a Sensirion SHT30/31/35.

The chip answers at 0x44 (ADDR low) or 0x45 and has no identity register;
it is recognised by its status register, whose word carries a valid CRC.
A reading is a single-shot measurement without clock stretching: one write
of the command, a wait of the datasheet's maximum duration for the chosen
repeatability, and one read of six bytes (temperature word, CRC, humidity
word, CRC). Every word's CRC-8 (polynomial 0x31, initial value 0xFF) is
checked; a wrong CRC gives a ``DECODE_ERROR`` sample.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from smbus2 import i2c_msg

from agent.clock import Clock
from agent.errors import DeviceError
from agent.reading import Quality, Sample
from drivers.i2c.bus import I2CBus

ADDRESSES = (0x44, 0x45)
CMD_READ_STATUS = 0xF32D
QUANTITIES = ("temperature", "humidity")

Repeatability = Literal["high", "medium", "low"]

# Single shot, clock stretching disabled: command and maximum duration (s).
SINGLE_SHOT: dict[str, tuple[int, float]] = {
    "high": (0x2400, 0.0155),
    "medium": (0x240B, 0.0065),
    "low": (0x2416, 0.0045),
}


def crc8(data: bytes) -> int:
    """Return the Sensirion CRC-8 of ``data`` (polynomial 0x31, init 0xFF)."""
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def temperature_c(raw: int) -> float:
    """Convert a raw temperature word to °C: -45 + 175 * raw / 65535."""
    return -45.0 + 175.0 * raw / 65535.0


def humidity_pct(raw: int) -> float:
    """Convert a raw humidity word to %RH: 100 * raw / 65535."""
    return 100.0 * raw / 65535.0


def words(data: bytes) -> list[int | None]:
    """Split ``data`` into 16-bit words, None for a word whose CRC is wrong."""
    out: list[int | None] = []
    for i in range(0, len(data) - 2, 3):
        word = data[i : i + 2]
        out.append(int.from_bytes(word, "big") if crc8(word) == data[i + 2] else None)
    return out


def read_status(bus: I2CBus, address: int) -> int | None:
    """Read the status register; None if its CRC is wrong. Two transactions."""
    bus.i2c_rdwr(i2c_msg.write(address, CMD_READ_STATUS.to_bytes(2, "big")))
    reply = i2c_msg.read(address, 3)
    bus.i2c_rdwr(reply)
    return words(bytes(reply))[0]


class Sht3x:
    """An SHT3x on ``bus`` at ``address``; waits go through ``clock``."""

    chip = "SHT3x"

    def __init__(
        self,
        bus: I2CBus,
        address: int = 0x44,
        *,
        clock: Clock,
        repeatability: Repeatability = "high",
    ) -> None:
        self.bus = bus
        self.address = address
        self.clock = clock
        self.repeatability = repeatability

    def setup(self) -> None:
        """Check that an SHT3x answers: its status word must carry a valid CRC.

        Single-shot commands carry their settings, so there is nothing to
        configure. Raises ``DeviceError`` for another chip, ``OSError`` on a
        bus error.
        """
        if read_status(self.bus, self.address) is None:
            raise DeviceError(
                f"chip at 0x{self.address:02x} sent a status word with a wrong CRC; "
                f"it is not an SHT3x or the bus is noisy"
            )

    def measure(self) -> dict[str, Sample]:
        """Take one single-shot measurement; raise ``OSError`` on a bus error."""
        command, duration_s = SINGLE_SHOT[self.repeatability]
        self.bus.i2c_rdwr(i2c_msg.write(self.address, command.to_bytes(2, "big")))
        self.clock.sleep_until(self.clock.now() + duration_s)
        reply = i2c_msg.read(self.address, 6)
        self.bus.i2c_rdwr(reply)

        raw = bytes(reply)
        t_raw, h_raw = words(raw)
        return {
            "temperature": _sample(t_raw, temperature_c, raw[0:3]),
            "humidity": _sample(h_raw, humidity_pct, raw[3:6]),
        }


def _sample(raw: int | None, convert: Callable[[int], float], frame: bytes) -> Sample:
    if raw is None:
        return Sample.bad(
            Quality.DECODE_ERROR,
            f"CRC mismatch: word 0x{frame[:2].hex()} came with CRC 0x{frame[2]:02x}, "
            f"expected 0x{crc8(frame[:2]):02x}",
        )
    return Sample(convert(raw))
