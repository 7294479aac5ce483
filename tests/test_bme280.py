"""BME280: the datasheet's integer compensation, timing, and the emulated chip."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agent.clock import SimClock
from agent.errors import DeviceError
from agent.reading import Quality
from drivers.i2c import bme280_math as m
from drivers.i2c.bme280 import Bme280, Bme280Settings, decode
from drivers.i2c.emu.bme280 import DATASHEET_CALIBRATION, EmulatedBme280, raw_for
from drivers.i2c.emu.bus import EmulatedBus

CAL = DATASHEET_CALIBRATION


def test_calibration_survives_the_register_layout() -> None:
    tp, h = CAL.to_bytes()
    assert len(tp) == 26 and len(h) == 7
    # dig_T1 = 27504 = 0x6B70, little endian at 0x88; dig_H1 at 0xA1.
    assert tp[0:2] == bytes((0x70, 0x6B)) and tp[25] == CAL.dig_h1
    assert m.Calibration.from_bytes(tp, h) == CAL
    negative = replace(CAL, dig_t2=-26435, dig_h4=-300, dig_h5=-7, dig_h6=-3)
    assert m.Calibration.from_bytes(*negative.to_bytes()) == negative


def test_datasheet_temperature_example() -> None:
    fine = m.t_fine(CAL, 519888)
    assert fine == 128422
    assert m.temperature_centi_c(fine) == 2508  # 25.08 °C


def test_datasheet_pressure_example_64bit() -> None:
    # NOTE: the 64-bit formula gives 25767233 (100653.25 Pa); the datasheet's
    # table quotes 100653.27 Pa, which its floating-point version rounds to.
    q24_8 = m.pressure_q24_8(CAL, 128422, 415148)
    assert q24_8 == 25767233
    assert q24_8 // 256 == 100653


def test_temperature_below_zero_uses_arithmetic_shifts() -> None:
    # By hand: var1 = (50000 - 55008) * 26435 >> 11 = -64642,
    # var2 = ((-2504)^2 >> 12) * -1000 >> 14 = -94, t_fine = -64736,
    # T = (-64736 * 5 + 128) >> 8 = -1264.
    fine = m.t_fine(CAL, 400000)
    assert fine == -64736
    assert m.temperature_centi_c(fine) == -1264


def test_measurement_time_follows_the_datasheet_formula() -> None:
    assert m.measurement_time_ms(1, 1, 1) == pytest.approx((8.0, 9.3))
    assert m.measurement_time_ms(16, 16, 16) == pytest.approx((98.0, 112.8))
    assert m.measurement_time_ms(1, 1, 0) == pytest.approx((5.5, 6.425))
    assert Bme280Settings().measurement_time_s() == pytest.approx(0.0093)


def _data(adc_t: int, adc_p: int, adc_h: int) -> list[int]:
    return [
        adc_p >> 12, (adc_p >> 4) & 0xFF, (adc_p & 0xF) << 4,
        adc_t >> 12, (adc_t >> 4) & 0xFF, (adc_t & 0xF) << 4,
        adc_h >> 8, adc_h & 0xFF,
    ]  # fmt: skip


def test_skipped_measurements_are_rejected() -> None:
    all_skipped = decode(CAL, _data(0x80000, 0x80000, 0x8000))
    assert all(s.quality is Quality.NOT_READY for s in all_skipped.values())
    assert all(s.value is None for s in all_skipped.values())

    no_humidity = decode(CAL, _data(519888, 415148, 0x8000))
    assert no_humidity["temperature"].value == 25.08
    assert no_humidity["pressure"].value == 25767233 / 256
    assert no_humidity["humidity"].quality is Quality.NOT_READY
    assert "0x8000" in no_humidity["humidity"].reason


@pytest.mark.parametrize(
    ("temperature_c", "pressure_pa", "humidity_pct"),
    [
        (-40.0, 30000.0, 0.0),
        (-5.5, 80000.0, 12.5),
        (25.0, 101325.0, 55.0),
        (85.0, 110000.0, 100.0),
    ],
)
def test_emulation_inverts_the_compensation(
    temperature_c: float, pressure_pa: float, humidity_pct: float
) -> None:
    adc_t, adc_p, adc_h = raw_for(CAL, temperature_c, pressure_pa, humidity_pct)
    out = decode(CAL, _data(adc_t, adc_p, adc_h))
    assert out["temperature"].value == temperature_c
    assert out["pressure"].value == pytest.approx(pressure_pa, abs=0.5)
    assert out["humidity"].value == pytest.approx(humidity_pct, abs=0.02)


def _setup(**values: float) -> tuple[SimClock, EmulatedBus, dict[str, float]]:
    clock = SimClock()
    physical = {"temperature_c": -12.34, "pressure_pa": 98765.0, "humidity_pct": 42.5}
    physical.update(values)
    bus = EmulatedBus({0x76: EmulatedBme280(lambda: physical, clock=clock)})
    return clock, bus, physical


def test_forced_mode_end_to_end_through_the_bus() -> None:
    clock, bus, physical = _setup()
    chip = Bme280(bus, 0x76, clock=clock)
    chip.setup()
    assert bus.transactions[0x76] == 4  # id, two calibration blocks, one config write

    t0 = clock.now()
    out = chip.measure()
    assert bus.transactions[0x76] == 6  # start, then one burst of status and data
    assert clock.now() - t0 == pytest.approx(0.0093, abs=1e-6)
    assert out["temperature"].value == -12.34
    assert out["pressure"].value == pytest.approx(98765.0, abs=0.5)
    assert out["humidity"].value == pytest.approx(42.5, abs=0.02)

    physical["temperature_c"] = 3.21
    assert chip.measure()["temperature"].value == 3.21


def test_normal_mode_reads_in_one_transaction() -> None:
    clock, bus, physical = _setup()
    chip = Bme280(
        bus, 0x76, clock=clock, settings=Bme280Settings(mode="normal", standby_ms=62.5)
    )
    chip.setup()
    before = bus.transactions[0x76]
    assert chip.measure()["temperature"].value == -12.34
    assert bus.transactions[0x76] == before + 1

    physical["temperature_c"] = 30.0
    clock.advance(1.0)
    assert chip.measure()["temperature"].value == 30.0


def test_oversampling_zero_skips_humidity_on_the_chip() -> None:
    clock, bus, _ = _setup()
    chip = Bme280(bus, 0x76, clock=clock, settings=Bme280Settings(oversampling_h=0))
    out = chip.measure()
    assert out["temperature"].quality is Quality.GOOD
    assert out["humidity"].quality is Quality.NOT_READY


def test_data_before_any_measurement_reads_as_skipped() -> None:
    _, bus, _ = _setup()
    data = bus.read_i2c_block_data(0x76, 0xF7, 8)
    assert data == [0x80, 0, 0, 0x80, 0, 0, 0x80, 0]
    out = decode(CAL, data)
    assert out["temperature"].quality is Quality.NOT_READY


def test_a_bmp280_is_refused_by_its_chip_id() -> None:
    clock = SimClock()
    bmp = EmulatedBme280(lambda: {}, clock=clock, chip_id=0x58)
    chip = Bme280(EmulatedBus({0x77: bmp}), 0x77, clock=clock)
    with pytest.raises(
        DeviceError,
        match=r"id 0x58 \(a BMP280, which has no humidity\), a BME280 has 0x60",
    ):
        chip.setup()
