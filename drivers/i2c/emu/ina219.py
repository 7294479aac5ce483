"""An emulated INA219: registers computed from a current and a bus voltage.

The config register reads 0x399F after reset and the calibration register
0. The chip converts continuously; each read gives the latest result. The
registers follow the datasheet: shunt voltage in 10 µV steps clipped to the
PGA range, bus voltage in 4 mV steps with CNVR and OVF flags, current =
shunt × calibration / 4096 and power = |current| × bus / 5000. CNVR is
cleared by reading the power register and set again after the next
conversion (bus and shunt, 532 µs each at 12 bits). Values come from
``source``, which returns ``current_a`` and ``bus_voltage_v``; the shunt's
resistance is a property of the board, given as ``shunt_ohm``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from agent.clock import Clock
from drivers.i2c.emu.chip import WordRegisterChip
from drivers.i2c.ina219 import RESET_CONFIG, SHUNT_RANGES_V

CONVERSION_S = 2 * 532e-6

Source = Callable[[], Mapping[str, float]]


def _trunc_div(a: int, b: int) -> int:
    return math.trunc(a / b) if abs(a) < 2**52 else int(a / b)


class EmulatedIna219(WordRegisterChip):
    """An INA219 at the register level on a shunt of ``shunt_ohm``."""

    chip = "INA219"

    def __init__(self, source: Source, *, clock: Clock, shunt_ohm: float = 0.1) -> None:
        super().__init__()
        self.source = source
        self.clock = clock
        self.shunt_ohm = shunt_ohm
        self.config = RESET_CONFIG
        self.cal = 0
        self._power_read_at: float | None = None

    def _registers(self) -> tuple[int, int, int, int]:
        """Return (shunt, bus, power, current) register values now."""
        values = self.source()
        range_v = SHUNT_RANGES_V[(self.config >> 11) & 0b11]
        limit = round(range_v / 10e-6)
        shunt_raw = round(values["current_a"] * self.shunt_ohm / 10e-6)
        overflow = abs(shunt_raw) > limit
        shunt = max(-limit, min(limit, shunt_raw))
        bus = max(0, min(0x1FFF, round(values["bus_voltage_v"] / 0.004)))
        current = _trunc_div(shunt * self.cal, 4096)
        if abs(current) > 0x7FFF:
            overflow = True
            current = max(-0x8000, min(0x7FFF, current))
        power = min(0xFFFF, abs(current) * bus // 5000)
        now = self.clock.now()
        ready = self._power_read_at is None or now >= self._power_read_at + CONVERSION_S
        bus_word = bus << 3 | (0x2 if ready else 0) | (0x1 if overflow else 0)
        return shunt & 0xFFFF, bus_word, power, current & 0xFFFF

    def read_register(self, register: int) -> int:
        if register == 0x00:
            return self.config
        if register == 0x05:
            return self.cal
        if register not in (0x01, 0x02, 0x03, 0x04):
            return 0
        shunt, bus, power, current = self._registers()
        if register == 0x03:
            self._power_read_at = self.clock.now()
            return power
        return {0x01: shunt, 0x02: bus, 0x04: current}[register]

    def write_register(self, register: int, value: int) -> None:
        if register == 0x00:
            if value & 0x8000:  # RST: back to power-on values
                self.config, self.cal = RESET_CONFIG, 0
            else:
                self.config = value
        elif register == 0x05:
            self.cal = value & 0xFFFE
