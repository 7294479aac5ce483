"""Find the chips on an I2C bus and name the known ones by their identity registers.

Presence is probed as ``i2cdetect`` does by default: a quick write, except
in the ranges where EEPROMs live (0x30..0x37, 0x50..0x5F), which get a
one-byte read instead, since a quick write could change them. Known chips
are then named by what they answer: BME280 chip id 0x60 (BMP280 0x58),
SHT3x a status word with a valid CRC, INA219 its reset config 0x399F,
ADS1115 its reset config 0x8583. Register reads come first; the SHT3x
command goes last, so no write lands in another chip's registers.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from drivers.i2c import ads1115, bme280, ina219, sht3x
from drivers.i2c.bus import I2CBus, is_no_ack

FIRST_ADDRESS = 0x03
LAST_ADDRESS = 0x77


@dataclass(frozen=True)
class Found:
    """An address that answered; ``chip`` is "" when not recognised."""

    address: int
    chip: str = ""
    detail: str = ""
    busy: bool = False


def _answers(bus: I2CBus, address: int) -> bool | None:
    """Return True if present, False if absent, None if a kernel driver holds it."""
    try:
        if 0x30 <= address <= 0x37 or 0x50 <= address <= 0x5F:
            bus.read_byte(address)
        else:
            bus.write_quick(address)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return None
        if is_no_ack(exc):
            return False
        raise
    return True


def _word(bus: I2CBus, address: int, register: int) -> int | None:
    try:
        hi, lo = bus.read_i2c_block_data(address, register, 2)
    except OSError:
        return None
    return (hi << 8) | lo


def identify(bus: I2CBus, address: int) -> tuple[str, str]:
    """Return the chip name and what identified it, or ("", "")."""
    if address in bme280.ADDRESSES:
        try:
            chip_id = bus.read_byte_data(address, bme280.REG_ID)
        except OSError:
            chip_id = None
        if chip_id == bme280.CHIP_ID:
            return "BME280", "chip id 0x60"
        if chip_id == bme280.BMP280_CHIP_ID:
            return "BMP280", "chip id 0x58"
    if address in ina219.ADDRESSES and _word(bus, address, 0x00) == ina219.RESET_CONFIG:
        return "INA219", "config 0x399F"
    if (
        address in ads1115.ADDRESSES
        and _word(bus, address, 0x01) == ads1115.RESET_CONFIG
    ):
        return "ADS1115", "config 0x8583"
    if address in sht3x.ADDRESSES:
        try:
            status = sht3x.read_status(bus, address)
        except OSError:
            status = None
        if status is not None:
            return "SHT3x", f"status 0x{status:04X} with a valid CRC"
    return "", ""


def scan(bus: I2CBus) -> list[Found]:
    """Probe every address from 0x03 to 0x77; return those that answered."""
    found = []
    for address in range(FIRST_ADDRESS, LAST_ADDRESS + 1):
        present = _answers(bus, address)
        if present is None:
            found.append(Found(address, busy=True))
        elif present:
            chip, detail = identify(bus, address)
            found.append(Found(address, chip, detail))
    return found
