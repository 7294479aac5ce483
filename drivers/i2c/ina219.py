"""The INA219 driver: bus voltage, shunt voltage, current and power (TI INA219).

The chip answers at 0x40..0x4F and has no identity register; after reset
its config register reads 0x399F, which is how a bus scan recognises it.
Setting up writes the config register (bus range, shunt range, 12-bit
conversions, continuous mode) and the calibration register, computed with
the datasheet's equations (section 8.5.1)::

    Current_LSB = max_expected_current / 2**15
    Cal = trunc(0.04096 / (Current_LSB * R_shunt))
    Power_LSB = 20 * Current_LSB

A reading reads only the registers its points need, each in one
transaction. The bus voltage register carries the CNVR (conversion ready)
and OVF (math overflow) flags; it is read whenever current or power is
asked for, and an overflow makes those samples ``OUT_OF_RANGE``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agent.clock import Clock
from agent.reading import Quality, Sample
from drivers.i2c.bus import I2CBus

ADDRESSES = tuple(range(0x40, 0x50))
RESET_CONFIG = 0x399F

REG_CONFIG = 0x00
REG_SHUNT = 0x01
REG_BUS = 0x02
REG_POWER = 0x03
REG_CURRENT = 0x04
REG_CALIBRATION = 0x05

BUS_LSB_V = 0.004
SHUNT_LSB_V = 10e-6
SHUNT_RANGES_V = (0.04, 0.08, 0.16, 0.32)  # PGA /1, /2, /4, /8
ADC_12BIT = 0b0011
MODE_CONTINUOUS = 0b111

QUANTITIES = ("bus_voltage", "shunt_voltage", "current", "power")


# One 12-bit conversion of shunt and bus voltage (datasheet: 532 µs each).
CONVERSION_S = 2 * 532e-6


def calibration(shunt_ohm: float, max_current_a: float) -> tuple[int, float]:
    """Return the calibration register value and the current LSB in A.

    Raises ``ValueError`` when the result does not fit the register.
    """
    current_lsb_a = max_current_a / 32768.0
    cal = math.trunc(0.04096 / (current_lsb_a * shunt_ohm))
    if not 0 < cal <= 0xFFFE:
        raise ValueError(
            f"INA219 calibration {cal} for a {shunt_ohm:g} Ω shunt and "
            f"{max_current_a:g} A does not fit the register (1 to 65534)"
        )
    # Bit 0 of the calibration register does not exist (it reads 0).
    return cal & 0xFFFE, current_lsb_a


def shunt_range_v(shunt_ohm: float, max_current_a: float) -> float:
    """Return the smallest shunt voltage range that holds the maximum current.

    Raises ``ValueError`` when even ±320 mV is too small.
    """
    needed_v = shunt_ohm * max_current_a
    for range_v in SHUNT_RANGES_V:
        if needed_v <= range_v * (1 + 1e-9):
            return range_v
    raise ValueError(
        f"INA219: {max_current_a:g} A through {shunt_ohm:g} Ω is "
        f"{needed_v * 1000:g} mV, beyond the ±320 mV shunt range"
    )


def config_word(bus_range_v: int, shunt_range: float) -> int:
    """Return the config register value: ranges, 12-bit ADCs, continuous mode."""
    brng = 1 if bus_range_v == 32 else 0
    pga = SHUNT_RANGES_V.index(shunt_range)
    return brng << 13 | pga << 11 | ADC_12BIT << 7 | ADC_12BIT << 3 | MODE_CONTINUOUS


def signed16(word: int) -> int:
    """Read a 16-bit register word as two's complement."""
    return word - 0x10000 if word & 0x8000 else word


@dataclass(frozen=True)
class BusVoltage:
    """The bus voltage register decoded: volts and the CNVR and OVF flags."""

    volts: float
    ready: bool
    overflow: bool

    @classmethod
    def decode(cls, word: int) -> BusVoltage:
        return cls((word >> 3) * BUS_LSB_V, bool(word & 0x2), bool(word & 0x1))


class Ina219:
    """An INA219 on ``bus`` at ``address`` measuring through ``shunt_ohm``."""

    chip = "INA219"

    def __init__(
        self,
        bus: I2CBus,
        address: int = 0x40,
        *,
        clock: Clock,
        shunt_ohm: float = 0.1,
        max_current_a: float = 3.2,
        bus_range_v: int = 32,
    ) -> None:
        self.bus = bus
        self.address = address
        self.clock = clock
        self.cal, self.current_lsb_a = calibration(shunt_ohm, max_current_a)
        self.config = config_word(bus_range_v, shunt_range_v(shunt_ohm, max_current_a))

    @property
    def power_lsb_w(self) -> float:
        return 20.0 * self.current_lsb_a

    def _read(self, register: int) -> int:
        hi, lo = self.bus.read_i2c_block_data(self.address, register, 2)
        return (hi << 8) | lo

    def _write(self, register: int, value: int) -> None:
        self.bus.write_i2c_block_data(
            self.address, register, [value >> 8, value & 0xFF]
        )

    def setup(self) -> None:
        """Write the config and calibration registers; ``OSError`` on a bus error."""
        self._write(REG_CONFIG, self.config)
        self._write(REG_CALIBRATION, self.cal)

    def measure(self, quantities: tuple[str, ...] = QUANTITIES) -> dict[str, Sample]:
        """Read the registers behind ``quantities``; ``OSError`` on a bus error."""
        out: dict[str, Sample] = {}
        needs_flags = "current" in quantities or "power" in quantities
        # A chip that lost power between two reads, without a bus error, comes
        # back with calibration 0 and would read 0 A: one more transaction a
        # reading notices it, and the set-up is done again before measuring.
        if needs_flags and self._read(REG_CALIBRATION) != self.cal:
            self.setup()
            self.clock.sleep_until(self.clock.now() + CONVERSION_S)
        bus = None
        if "bus_voltage" in quantities or needs_flags:
            bus = BusVoltage.decode(self._read(REG_BUS))
            out["bus_voltage"] = Sample(bus.volts)
        if "shunt_voltage" in quantities:
            out["shunt_voltage"] = Sample(signed16(self._read(REG_SHUNT)) * SHUNT_LSB_V)
        if bus is not None and bus.overflow:
            why = "INA219 math overflow (OVF): current beyond the calibrated range"
            out["current"] = out["power"] = Sample.bad(Quality.OUT_OF_RANGE, why)
            return out
        if "current" in quantities:
            out["current"] = Sample(
                signed16(self._read(REG_CURRENT)) * self.current_lsb_a
            )
        if "power" in quantities:
            out["power"] = Sample(self._read(REG_POWER) * self.power_lsb_w)
        return out
