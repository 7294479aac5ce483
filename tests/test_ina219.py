"""INA219: calibration equations, register decoding and negative currents."""

from __future__ import annotations

import pytest

from agent.clock import SimClock
from agent.reading import Quality
from drivers.i2c.emu.bus import EmulatedBus
from drivers.i2c.emu.ina219 import EmulatedIna219
from drivers.i2c.ina219 import (
    RESET_CONFIG,
    BusVoltage,
    Ina219,
    calibration,
    config_word,
    shunt_range_v,
    signed16,
)


def test_calibration_from_the_datasheet_equations() -> None:
    # Current_LSB = 3.2 / 2^15; Cal = trunc(0.04096 / (97.65625e-6 * 0.1)) = 4194
    assert calibration(0.1, 3.2) == (4194, 3.2 / 32768)
    # 0.6 A on 0.5 Ω: trunc(4473.92) = 4473, and bit 0 of the register is void.
    cal, lsb = calibration(0.5, 0.6)
    assert lsb == pytest.approx(18.310546875e-6)
    assert cal == 4472


def test_calibration_that_does_not_fit_is_refused() -> None:
    msg = (
        "INA219 calibration 1342177 for a 0.1 Ω shunt and 0.01 A does not fit "
        "the register (1 to 65534)"
    )
    with pytest.raises(ValueError) as err:
        calibration(0.1, 0.01)
    assert str(err.value) == msg


def test_config_word_and_shunt_range() -> None:
    assert config_word(32, shunt_range_v(0.1, 3.2)) == RESET_CONFIG == 0x399F
    assert shunt_range_v(0.1, 0.35) == 0.04
    assert config_word(32, 0.04) == 0x219F
    assert config_word(16, 0.16) == 0x119F
    with pytest.raises(ValueError, match="500 mV, beyond the ±320 mV shunt range"):
        shunt_range_v(0.1, 5.0)


def test_register_decoding() -> None:
    bus = BusVoltage.decode((3000 << 3) | 0b10)
    assert bus == BusVoltage(12.0, ready=True, overflow=False)
    assert BusVoltage.decode(0xFFF9).volts == pytest.approx(8191 * 0.004)
    assert BusVoltage.decode(0x0001).overflow
    assert signed16(0xEC78) == -5000  # shunt -50 mV in 10 µV steps
    assert signed16(0x7D00) == 32000


def _meter(
    current_a: float, bus_v: float = 12.0
) -> tuple[EmulatedBus, dict[str, float], Ina219]:
    clock = SimClock()
    values = {"current_a": current_a, "bus_voltage_v": bus_v}
    bus = EmulatedBus(
        {0x40: EmulatedIna219(lambda: values, clock=clock, shunt_ohm=0.1)}
    )
    chip = Ina219(bus, 0x40, clock=clock, shunt_ohm=0.1, max_current_a=3.2)
    chip.setup()
    return bus, values, chip


def test_negative_current_end_to_end() -> None:
    _, _, chip = _meter(-0.5)
    out = chip.measure()
    assert out["shunt_voltage"].value == pytest.approx(-0.05)
    # Current register = trunc(-5000 * 4194 / 4096) = -5119
    assert out["current"].value == -5119 * 3.2 / 32768
    # Power register = 5119 * 3000 // 5000 = 3071, power LSB = 20 * current LSB
    assert out["power"].value == 3071 * 20 * 3.2 / 32768
    assert out["bus_voltage"].value == 12.0


def test_positive_current_and_registers_read() -> None:
    bus, values, chip = _meter(1.25, 5.0)
    before = bus.transactions[0x40]
    out = chip.measure(("current",))
    # The calibration check, the bus voltage (its flags) and the current.
    assert bus.transactions[0x40] == before + 3
    assert out["current"].value == pytest.approx(1.25, abs=2 * 3.2 / 32768)
    values["current_a"] = -2.0
    assert chip.measure(("current",))["current"].value == pytest.approx(
        -2.0, abs=2 * 3.2 / 32768
    )


def test_overflow_marks_current_and_power_out_of_range() -> None:
    _, _, chip = _meter(5.0)
    out = chip.measure()
    assert out["current"].quality is Quality.OUT_OF_RANGE
    assert out["power"].quality is Quality.OUT_OF_RANGE
    assert "OVF" in out["current"].reason
    assert out["shunt_voltage"].value == pytest.approx(0.32)  # clipped at ±320 mV


def test_cnvr_clears_on_power_read() -> None:
    _, _, chip = _meter(0.5)
    assert BusVoltage.decode(chip._read(0x02)).ready
    chip._read(0x03)
    assert not BusVoltage.decode(chip._read(0x02)).ready
