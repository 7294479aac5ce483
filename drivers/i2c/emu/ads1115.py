"""An emulated ADS1115: 16-bit registers, single-shot conversions on the injected clock.

The config register reads 0x8583 after reset. Writing it with the OS bit
set in single-shot mode starts a conversion that lasts one period of the
data rate; meanwhile OS reads 0 and the conversion register keeps the
previous result, as on the chip. In continuous mode every read of the
conversion register gives a fresh result. Input voltages come from
``source``, which returns volts by input name (``a0``..``a3``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from agent.clock import Clock
from drivers.i2c.ads1115 import DATA_RATES_SPS, RESET_CONFIG
from drivers.i2c.emu.chip import WordRegisterChip

FULL_SCALE_V = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256)
# MUX code -> (positive input, negative input or None for GND).
MUX: dict[int, tuple[str, str | None]] = {
    0b000: ("a0", "a1"),
    0b001: ("a0", "a3"),
    0b010: ("a1", "a3"),
    0b011: ("a2", "a3"),
    0b100: ("a0", None),
    0b101: ("a1", None),
    0b110: ("a2", None),
    0b111: ("a3", None),
}

Source = Callable[[], Mapping[str, float]]


def code_for(volts: float, full_scale_v: float) -> int:
    """Return the conversion word for ``volts``, clipped at the full scale."""
    code = round(volts * 32768.0 / full_scale_v)
    return min(0x7FFF, max(-0x8000, code)) & 0xFFFF


class EmulatedAds1115(WordRegisterChip):
    """An ADS1115 at the register level, fed by ``source`` on ``clock``."""

    chip = "ADS1115"

    def __init__(self, source: Source, *, clock: Clock) -> None:
        super().__init__()
        self.source = source
        self.clock = clock
        self.config = RESET_CONFIG
        self.conversion = 0x0000
        self.lo_thresh = 0x8000
        self.hi_thresh = 0x7FFF
        self._done_at: float | None = None
        self.conversions = 0

    def _sample(self) -> int:
        pos, neg = MUX[(self.config >> 12) & 0b111]
        volts = self.source()
        v = volts[pos] - (volts[neg] if neg else 0.0)
        self.conversions += 1
        return code_for(v, FULL_SCALE_V[(self.config >> 9) & 0b111])

    def _update(self) -> None:
        if self._done_at is not None and self.clock.now() >= self._done_at:
            self.conversion = self._sample()
            self._done_at = None
            self.config |= 0x8000

    def read_register(self, register: int) -> int:
        self._update()
        reg = register & 0b11
        if reg == 0:
            if not self.config & 0x0100:  # continuous mode
                self.conversion = self._sample()
            return self.conversion
        if reg == 1:
            return self.config
        return self.lo_thresh if reg == 2 else self.hi_thresh

    def write_register(self, register: int, value: int) -> None:
        self._update()
        reg = register & 0b11
        if reg == 1:
            start = value & 0x8000 and value & 0x0100 and self._done_at is None
            self.config = value & 0x7FFF
            if start:
                rate_sps = DATA_RATES_SPS[(value >> 5) & 0b111]
                self._done_at = self.clock.now() + 1.0 / rate_sps
            elif self._done_at is None:
                self.config |= 0x8000
        elif reg == 2:
            self.lo_thresh = value
        elif reg == 3:
            self.hi_thresh = value
