"""BME280 calibration words and the datasheet's integer compensation.

The formulas are those of the Bosch BME280 datasheet (section 4.2.3): the
32-bit integer version for temperature and humidity, the 64-bit integer
version for pressure. They are written with Python integers; shifts of
negative numbers are arithmetic as in the datasheet's C, and the one
division truncates toward zero as C does.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# Register blocks that hold the calibration words.
CALIB_TP_REG = 0x88
CALIB_TP_LEN = 26  # 0x88..0xA1
CALIB_H_REG = 0xE1
CALIB_H_LEN = 7  # 0xE1..0xE7

# Raw values the chip leaves in the data registers for a skipped measurement.
SKIPPED_TP = 0x80000
SKIPPED_H = 0x8000

# osrs_x register code -> oversampling factor (0 = measurement skipped).
OVERSAMPLING_CODES = {0: 0, 1: 1, 2: 2, 3: 4, 4: 8, 5: 16, 6: 16, 7: 16}


@dataclass(frozen=True)
class Calibration:
    """The trimming words read from the chip's non-volatile memory."""

    dig_t1: int
    dig_t2: int
    dig_t3: int
    dig_p1: int
    dig_p2: int
    dig_p3: int
    dig_p4: int
    dig_p5: int
    dig_p6: int
    dig_p7: int
    dig_p8: int
    dig_p9: int
    dig_h1: int = 0
    dig_h2: int = 0
    dig_h3: int = 0
    dig_h4: int = 0
    dig_h5: int = 0
    dig_h6: int = 0

    @classmethod
    def from_bytes(cls, tp: bytes, h: bytes) -> Calibration:
        """Decode the 26 bytes at 0x88..0xA1 and the 7 bytes at 0xE1..0xE7."""
        if len(tp) != CALIB_TP_LEN or len(h) != CALIB_H_LEN:
            raise ValueError(
                f"calibration blocks must be {CALIB_TP_LEN} and {CALIB_H_LEN} "
                f"bytes, got {len(tp)} and {len(h)}"
            )
        t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9 = struct.unpack_from(
            "<HhhHhhhhhhhh", tp
        )
        (h2,) = struct.unpack_from("<h", h, 0)
        e4 = struct.unpack_from("b", h, 3)[0]
        e6 = struct.unpack_from("b", h, 5)[0]
        return cls(
            t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9,
            dig_h1=tp[25],
            dig_h2=h2,
            dig_h3=h[2],
            dig_h4=(e4 << 4) | (h[4] & 0x0F),
            dig_h5=(e6 << 4) | (h[4] >> 4),
            dig_h6=struct.unpack_from("b", h, 6)[0],
        )  # fmt: skip

    def to_bytes(self) -> tuple[bytes, bytes]:
        """Encode the words as the chip stores them (the inverse of ``from_bytes``)."""
        tp = struct.pack(
            "<HhhHhhhhhhhhBB",
            self.dig_t1, self.dig_t2, self.dig_t3,
            self.dig_p1, self.dig_p2, self.dig_p3, self.dig_p4, self.dig_p5,
            self.dig_p6, self.dig_p7, self.dig_p8, self.dig_p9,
            0, self.dig_h1,
        )  # fmt: skip
        h = struct.pack(
            "<hBBBBb",
            self.dig_h2,
            self.dig_h3,
            (self.dig_h4 >> 4) & 0xFF,
            (self.dig_h4 & 0x0F) | ((self.dig_h5 & 0x0F) << 4),
            (self.dig_h5 >> 4) & 0xFF,
            self.dig_h6,
        )
        return tp, h


def t_fine(cal: Calibration, adc_t: int) -> int:
    """Return the fine temperature that pressure and humidity compensation use."""
    var1 = (((adc_t >> 3) - (cal.dig_t1 << 1)) * cal.dig_t2) >> 11
    d = (adc_t >> 4) - cal.dig_t1
    var2 = (((d * d) >> 12) * cal.dig_t3) >> 14
    return var1 + var2


def temperature_centi_c(fine: int) -> int:
    """Return the temperature in 0.01 °C from ``t_fine`` (5123 is 51.23 °C)."""
    return (fine * 5 + 128) >> 8


def _div_trunc(a: int, b: int) -> int:
    """Divide as C does for signed integers: round toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def pressure_q24_8(cal: Calibration, fine: int, adc_p: int) -> int:
    """Return the pressure in Pa as Q24.8 (divide by 256), 64-bit formula."""
    var1 = fine - 128000
    var2 = var1 * var1 * cal.dig_p6
    var2 = var2 + ((var1 * cal.dig_p5) << 17)
    var2 = var2 + (cal.dig_p4 << 35)
    var1 = ((var1 * var1 * cal.dig_p3) >> 8) + ((var1 * cal.dig_p2) << 12)
    var1 = (((1 << 47) + var1) * cal.dig_p1) >> 33
    if var1 == 0:
        return 0  # the datasheet's guard against a division by zero
    p = 1048576 - adc_p
    p = _div_trunc(((p << 31) - var2) * 3125, var1)
    var1 = (cal.dig_p9 * (p >> 13) * (p >> 13)) >> 25
    var2 = (cal.dig_p8 * p) >> 19
    return ((p + var1 + var2) >> 8) + (cal.dig_p7 << 4)


def humidity_q22_10(cal: Calibration, fine: int, adc_h: int) -> int:
    """Return the relative humidity in % as Q22.10 (divide by 1024)."""
    v = fine - 76800
    v = ((((adc_h << 14) - (cal.dig_h4 << 20) - (cal.dig_h5 * v)) + 16384) >> 15) * (
        (
            (
                ((((v * cal.dig_h6) >> 10) * (((v * cal.dig_h3) >> 11) + 32768)) >> 10)
                + 2097152
            )
            * cal.dig_h2
            + 8192
        )
        >> 14
    )
    v = v - (((((v >> 15) * (v >> 15)) >> 7) * cal.dig_h1) >> 4)
    v = min(max(v, 0), 419430400)
    return v >> 12


def oversampling_factor(code: int) -> int:
    """Return the oversampling factor of an ``osrs_x`` code (0 = skipped)."""
    return OVERSAMPLING_CODES[code & 0x07]


def measurement_time_ms(osrs_t: int, osrs_p: int, osrs_h: int) -> tuple[float, float]:
    """Return the typical and maximum measurement time in ms (datasheet 9.1).

    Arguments are oversampling factors (0, 1, 2, 4, 8, 16); 0 skips the
    measurement and its term.
    """
    typ = 1.0
    worst = 1.25
    if osrs_t:
        typ += 2.0 * osrs_t
        worst += 2.3 * osrs_t
    if osrs_p:
        typ += 2.0 * osrs_p + 0.5
        worst += 2.3 * osrs_p + 0.575
    if osrs_h:
        typ += 2.0 * osrs_h + 0.5
        worst += 2.3 * osrs_h + 0.575
    return typ, worst
