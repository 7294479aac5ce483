"""An emulated BME280 that answers register reads and writes with bytes.

It holds the chip's register file: id 0x60, the calibration blocks, the
control registers and the data registers, which read 0x80000 / 0x8000 after
reset and for skipped measurements as the silicon does. A measurement takes
the datasheet's typical time on the injected clock; meanwhile the status
register shows ``measuring`` and the data registers keep the previous
result. The values come from ``source``, a callable that returns the
physical quantities (``temperature_c``, ``pressure_pa``, ``humidity_pct``),
and are turned into ADC counts by inverting the compensation by bisection.
Writes take register and value pairs; reads auto-increment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from agent.clock import Clock
from drivers.i2c import bme280_math as m
from drivers.i2c.emu.chip import EmulatedChip

# The calibration of the datasheet's worked example for T and P, with
# humidity words as a typical chip carries them.
DATASHEET_CALIBRATION = m.Calibration(
    dig_t1=27504, dig_t2=26435, dig_t3=-1000,
    dig_p1=36477, dig_p2=-10685, dig_p3=3024, dig_p4=2855, dig_p5=140,
    dig_p6=-7, dig_p7=15500, dig_p8=-14600, dig_p9=6000,
    dig_h1=75, dig_h2=362, dig_h3=0, dig_h4=313, dig_h5=50, dig_h6=30,
)  # fmt: skip

RESET_DATA = bytes((0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00))
STANDBY_MS = (0.5, 62.5, 125.0, 250.0, 500.0, 1000.0, 10.0, 20.0)

Source = Callable[[], Mapping[str, float]]


def _bisect(f: Callable[[int], int], target: int, lo: int, hi: int) -> int:
    """Return the smallest x in lo..hi with f(x) >= target, f non-decreasing."""
    while lo < hi:
        mid = (lo + hi) // 2
        if f(mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def raw_for(
    cal: m.Calibration, temperature_c: float, pressure_pa: float, humidity_pct: float
) -> tuple[int, int, int]:
    """Return the ADC counts (adc_T, adc_P, adc_H) that compensate to the values."""
    adc_t = _bisect(
        lambda a: m.temperature_centi_c(m.t_fine(cal, a)),
        round(temperature_c * 100),
        0,
        (1 << 20) - 1,
    )
    fine = m.t_fine(cal, adc_t)
    # Pressure falls as adc_P rises; bisect on the negated pressure.
    adc_p = _bisect(
        lambda a: -m.pressure_q24_8(cal, fine, a),
        -round(pressure_pa * 256),
        0,
        (1 << 20) - 1,
    )
    adc_h = _bisect(
        lambda a: m.humidity_q22_10(cal, fine, a),
        round(humidity_pct * 1024),
        0,
        0xFFFF,
    )
    return adc_t, adc_p, adc_h


class EmulatedBme280(EmulatedChip):
    """A BME280 at the register level, fed by ``source`` on ``clock``."""

    chip = "BME280"

    def __init__(
        self,
        source: Source,
        *,
        clock: Clock,
        calibration: m.Calibration = DATASHEET_CALIBRATION,
        chip_id: int = 0x60,
    ) -> None:
        super().__init__()
        self.source = source
        self.clock = clock
        self.calibration = calibration
        self.chip_id = chip_id
        self.pointer = 0
        self.regs = bytearray(256)
        self.measurements = 0
        self._reset()

    def _reset(self) -> None:
        tp, h = self.calibration.to_bytes()
        self.regs[:] = bytes(256)
        self.regs[0x88 : 0x88 + len(tp)] = tp
        self.regs[0xE1 : 0xE1 + len(h)] = h
        self.regs[0xD0] = self.chip_id
        self.regs[0xF7:0xFF] = RESET_DATA
        self._hum_effective = 0
        self._done_at: float | None = None
        self._normal_t0: float | None = None
        self._latched_cycle = -1

    # -- timing -----------------------------------------------------------

    def _duration_s(self) -> float:
        meas = self.regs[0xF4]
        typ_ms, _ = m.measurement_time_ms(
            m.oversampling_factor(meas >> 5),
            m.oversampling_factor(meas >> 2),
            m.oversampling_factor(self._hum_effective),
        )
        return typ_ms / 1000.0

    def _update(self) -> None:
        """Finish a measurement whose time is up; in normal mode, the latest one."""
        now = self.clock.now()
        measuring = False
        if self.regs[0xF4] & 0b11 == 0b11 and self._normal_t0 is not None:
            duration_s = self._duration_s()
            period_s = duration_s + STANDBY_MS[self.regs[0xF5] >> 5] / 1000.0
            cycle = int((now - self._normal_t0) // period_s)
            if now - (self._normal_t0 + cycle * period_s) < duration_s:
                measuring = True
                cycle -= 1
            if cycle >= 0 and cycle != self._latched_cycle:
                self._latch()
                self._latched_cycle = cycle
        elif self._done_at is not None:
            if now >= self._done_at:
                self._latch()
                self._done_at = None
                self.regs[0xF4] &= 0xFC  # a forced measurement ends in sleep
            else:
                measuring = True
        self.regs[0xF3] = 0x08 if measuring else 0x00

    def _latch(self) -> None:
        values = self.source()
        adc_t, adc_p, adc_h = raw_for(
            self.calibration,
            values["temperature_c"],
            values["pressure_pa"],
            values["humidity_pct"],
        )
        meas = self.regs[0xF4]
        if not meas >> 5:
            adc_t = m.SKIPPED_TP
        if not (meas >> 2) & 0b111:
            adc_p = m.SKIPPED_TP
        if not self._hum_effective:
            adc_h = m.SKIPPED_H
        self.regs[0xF7:0xFF] = bytes(
            (
                adc_p >> 12, (adc_p >> 4) & 0xFF, (adc_p & 0xF) << 4,
                adc_t >> 12, (adc_t >> 4) & 0xFF, (adc_t & 0xF) << 4,
                adc_h >> 8, adc_h & 0xFF,
            )
        )  # fmt: skip
        self.measurements += 1

    # -- the wire ---------------------------------------------------------

    def on_write(self, data: bytes) -> None:
        if len(data) == 1:
            self.pointer = data[0]
            return
        for i in range(0, len(data) - 1, 2):
            self._write_register(data[i], data[i + 1])

    def _write_register(self, register: int, value: int) -> None:
        self._update()
        if register == 0xE0:
            if value == 0xB6:
                self._reset()
            return
        if register not in (0xF2, 0xF4, 0xF5):
            return  # read-only registers ignore writes
        self.regs[register] = value
        if register == 0xF4:
            self._hum_effective = self.regs[0xF2] & 0b111
            mode = value & 0b11
            if mode in (0b01, 0b10) and self._done_at is None:
                self._done_at = self.clock.now() + self._duration_s()
            elif mode == 0b11:
                self._normal_t0 = self.clock.now()
                self._latched_cycle = -1
            self._update()

    def on_read(self, length: int) -> bytes:
        self._update()
        out = bytes(self.regs[(self.pointer + i) & 0xFF] for i in range(length))
        self.pointer = (self.pointer + length) & 0xFF
        return out
