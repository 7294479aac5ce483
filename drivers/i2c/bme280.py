"""The BME280 driver: temperature, pressure and humidity from a Bosch BME280.

The chip answers at 0x76 (SDO to ground) or 0x77 and identifies itself with
chip id 0x60 at register 0xD0 (a BMP280, id 0x58, has no humidity and is
refused). Setting up reads the id and the two calibration blocks, then
writes ctrl_hum, config and ctrl_meas in one transaction (the chip takes
register and value pairs in one write, and ctrl_hum only takes effect on
the following ctrl_meas write).

In forced mode a reading costs two transactions: one write of ctrl_meas
that starts a measurement, a wait of the datasheet's maximum measurement
time, and one burst read of 0xF3..0xFE that gives the status (still
measuring or not) and every data register at once. In normal mode the chip
measures on its own and a reading is one burst read of 0xF7..0xFE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.clock import Clock
from agent.errors import DeviceError
from agent.reading import Quality, Sample
from drivers.i2c import bme280_math as m
from drivers.i2c.bus import I2CBus

ADDRESSES = (0x76, 0x77)
CHIP_ID = 0x60
BMP280_CHIP_ID = 0x58

REG_ID = 0xD0
REG_CTRL_HUM = 0xF2
REG_STATUS = 0xF3
REG_CTRL_MEAS = 0xF4
REG_CONFIG = 0xF5
REG_DATA = 0xF7

STATUS_MEASURING = 0x08
MODE_FORCED = 0b01
MODE_NORMAL = 0b11

# Standby time in normal mode (ms) -> t_sb code in the config register.
STANDBY_CODES = {
    0.5: 0b000,
    62.5: 0b001,
    125.0: 0b010,
    250.0: 0b011,
    500.0: 0b100,
    1000.0: 0b101,
    10.0: 0b110,
    20.0: 0b111,
}
OVERSAMPLING_TO_CODE = {0: 0, 1: 1, 2: 2, 4: 3, 8: 4, 16: 5}
QUANTITIES = ("temperature", "pressure", "humidity")

Mode = Literal["forced", "normal"]


@dataclass(frozen=True)
class Bme280Settings:
    """How the chip measures.

    ``oversampling`` is the factor for each of temperature, pressure and
    humidity (0 skips a measurement, else 1, 2, 4, 8 or 16); ``standby_ms``
    is the pause between measurements in normal mode.
    """

    mode: Mode = "forced"
    oversampling_t: int = 1
    oversampling_p: int = 1
    oversampling_h: int = 1
    standby_ms: float = 1000.0

    def measurement_time_s(self) -> float:
        """Return the datasheet's maximum measurement time, in seconds."""
        _, worst_ms = m.measurement_time_ms(
            self.oversampling_t, self.oversampling_p, self.oversampling_h
        )
        return worst_ms / 1000.0

    def ctrl_meas(self) -> int:
        mode = MODE_FORCED if self.mode == "forced" else MODE_NORMAL
        return (
            (OVERSAMPLING_TO_CODE[self.oversampling_t] << 5)
            | (OVERSAMPLING_TO_CODE[self.oversampling_p] << 2)
            | mode
        )

    def ctrl_hum(self) -> int:
        return OVERSAMPLING_TO_CODE[self.oversampling_h]

    def config(self) -> int:
        return STANDBY_CODES[self.standby_ms] << 5


class Bme280:
    """A BME280 on ``bus`` at ``address``; waits go through ``clock``."""

    chip = "BME280"

    def __init__(
        self,
        bus: I2CBus,
        address: int = 0x76,
        *,
        clock: Clock,
        settings: Bme280Settings | None = None,
    ) -> None:
        self.bus = bus
        self.address = address
        self.clock = clock
        self.settings = settings or Bme280Settings()
        self.calibration: m.Calibration | None = None

    def setup(self) -> None:
        """Check the chip id, read the calibration and configure the chip.

        Raises ``DeviceError`` when another chip answers, ``OSError`` on a
        bus error.
        """
        chip_id = self.bus.read_byte_data(self.address, REG_ID)
        if chip_id != CHIP_ID:
            seen = " (a BMP280, which has no humidity)" if chip_id == 0x58 else ""
            raise DeviceError(
                f"chip at 0x{self.address:02x} has id 0x{chip_id:02x}{seen}, "
                f"a BME280 has 0x{CHIP_ID:02x}"
            )
        tp = bytes(self.bus.read_i2c_block_data(self.address, m.CALIB_TP_REG, 26))
        h = bytes(self.bus.read_i2c_block_data(self.address, m.CALIB_H_REG, 7))
        self.calibration = m.Calibration.from_bytes(tp, h)

        # Register and value pairs; ctrl_meas last so that ctrl_hum applies.
        s = self.settings
        self.bus.write_i2c_block_data(
            self.address,
            REG_CTRL_HUM,
            [s.ctrl_hum(), REG_CONFIG, s.config(), REG_CTRL_MEAS, s.ctrl_meas()],
        )
        if s.mode == "normal":
            self.clock.sleep_until(self.clock.now() + s.measurement_time_s())

    def measure(self) -> dict[str, Sample]:
        """Take one measurement; return a sample per quantity.

        Raises ``OSError`` on a bus error. A skipped or unfinished
        measurement gives samples of quality ``NOT_READY``. Every quantity
        is configured with oversampling, so a skipped one means the chip
        lost its settings (a reboot without a bus error): it is set up
        again and measured once more.
        """
        out = self._measure()
        if any(_skipped(v) for v in out.values()):
            self.setup()
            out = self._measure()
        return out

    def _measure(self) -> dict[str, Sample]:
        if self.calibration is None:
            self.setup()
        assert self.calibration is not None
        s = self.settings
        if s.mode == "forced":
            self.bus.write_byte_data(self.address, REG_CTRL_MEAS, s.ctrl_meas())
            self.clock.sleep_until(self.clock.now() + s.measurement_time_s())
            block = self.bus.read_i2c_block_data(self.address, REG_STATUS, 12)
            if block[0] & STATUS_MEASURING:
                reason = "measurement not finished within the datasheet's maximum time"
                return {q: Sample.bad(Quality.NOT_READY, reason) for q in QUANTITIES}
            data = block[4:]
        else:
            data = self.bus.read_i2c_block_data(self.address, REG_DATA, 8)
        return decode(self.calibration, data)


def _skipped(sample: Sample) -> bool:
    return sample.quality is Quality.NOT_READY and "skipped" in sample.reason


def decode(cal: m.Calibration, data: list[int]) -> dict[str, Sample]:
    """Compensate the 8 data bytes of 0xF7..0xFE into samples.

    Temperature in °C, pressure in Pa, humidity in %RH. Skipped measurements
    (0x80000 for T and P, 0x8000 for H) give ``NOT_READY`` samples; without a
    temperature nothing can be compensated.
    """
    adc_p = (data[0] << 12) | (data[1] << 4) | (data[2] >> 4)
    adc_t = (data[3] << 12) | (data[4] << 4) | (data[5] >> 4)
    adc_h = (data[6] << 8) | data[7]
    if adc_t == m.SKIPPED_TP:
        why = Sample.bad(Quality.NOT_READY, "temperature measurement skipped (0x80000)")
        return dict.fromkeys(QUANTITIES, why)

    fine = m.t_fine(cal, adc_t)
    out = {"temperature": Sample(m.temperature_centi_c(fine) / 100.0)}
    if adc_p == m.SKIPPED_TP:
        out["pressure"] = Sample.bad(
            Quality.NOT_READY, "pressure measurement skipped (0x80000)"
        )
    else:
        out["pressure"] = Sample(m.pressure_q24_8(cal, fine, adc_p) / 256.0)
    if adc_h == m.SKIPPED_H:
        out["humidity"] = Sample.bad(
            Quality.NOT_READY, "humidity measurement skipped (0x8000)"
        )
    else:
        out["humidity"] = Sample(m.humidity_q22_10(cal, fine, adc_h) / 1024.0)
    return out
