"""ADS1115: signed results at every gain, config words, conversions on the emulation."""

from __future__ import annotations

import pytest

from agent.clock import SimClock
from drivers.i2c.ads1115 import RESET_CONFIG, Ads1115, AdsInput, config_word, to_volts
from drivers.i2c.emu.ads1115 import EmulatedAds1115
from drivers.i2c.emu.bus import EmulatedBus


@pytest.mark.parametrize(
    ("raw", "full_scale_v", "volts"),
    [
        (0x8000, 2.048, -2.048),
        (0xFFFF, 2.048, -2.048 / 32768),  # -1 LSB = -62.5 µV
        (0x8000, 6.144, -6.144),
        (0xFFFF, 6.144, -0.0001875),
        (0xC000, 4.096, -2.048),
        (0x8000, 0.256, -0.256),
        (0xFFFF, 0.256, -0.0000078125),
        (0x7FFF, 2.048, 2.048 * 32767 / 32768),
        (0x0001, 1.024, 0.00003125),
        (0x0000, 0.512, 0.0),
    ],
)
def test_signed_results_at_each_gain(
    raw: int, full_scale_v: float, volts: float
) -> None:
    assert to_volts(raw, full_scale_v) == pytest.approx(volts, rel=1e-12, abs=1e-15)


def test_config_word_bits() -> None:
    # OS=1, MUX=100 (AIN0-GND), PGA=001 (±4.096 V), MODE=1 (single shot),
    # DR=100 (128 SPS), COMP_QUE=11 (comparator off)
    assert config_word(AdsInput("a0", 4.096), 128) == 0xC383
    # MUX=000 (AIN0-AIN1), PGA=101 (±0.256 V), DR=111 (860 SPS)
    assert config_word(AdsInput("a0-a1", 0.256), 860) == 0x8BE3


def _adc(**volts: float) -> tuple[SimClock, EmulatedBus, dict[str, float]]:
    clock = SimClock()
    inputs = {"a0": 1.0, "a1": 2.0, "a2": 0.125, "a3": 3.0, **volts}
    return (
        clock,
        EmulatedBus({0x48: EmulatedAds1115(lambda: inputs, clock=clock)}),
        inputs,
    )


def test_config_reads_its_reset_value() -> None:
    _, bus, _ = _adc()
    hi, lo = bus.read_i2c_block_data(0x48, 0x01, 2)
    assert (hi << 8) | lo == RESET_CONFIG == 0x8583


def test_each_channel_gets_its_own_value() -> None:
    clock, bus, _ = _adc()
    adc = Ads1115(bus, 0x48, clock=clock)
    got = [
        adc.convert(AdsInput(ch, 4.096)) for ch in ("a0", "a1", "a2", "a3", "a0", "a2")
    ]
    assert got == [1.0, 2.0, 0.125, 3.0, 1.0, 0.125]
    assert bus.transactions[0x48] == 3 * 6  # config write, OS poll, conversion read


def test_without_waiting_the_previous_channel_would_be_read() -> None:
    clock, bus, _ = _adc()
    adc = Ads1115(bus, 0x48, clock=clock)
    assert adc.convert(AdsInput("a0", 4.096)) == 1.0
    # Start a1 and read the conversion register at once: still a0's result.
    word = config_word(AdsInput("a1", 4.096), 128)
    bus.write_i2c_block_data(0x48, 0x01, [word >> 8, word & 0xFF])
    hi, lo = bus.read_i2c_block_data(0x48, 0x00, 2)
    assert to_volts((hi << 8) | lo, 4.096) == 1.0
    assert bus.read_i2c_block_data(0x48, 0x01, 2)[0] & 0x80 == 0  # OS: busy


def test_waits_one_conversion_period_on_the_clock() -> None:
    clock, bus, _ = _adc()
    t0 = clock.now()
    Ads1115(bus, 0x48, clock=clock, data_rate_sps=8).convert(AdsInput("a0", 4.096))
    assert clock.now() - t0 == pytest.approx(1.1 / 8, abs=1e-6)


def test_differential_and_negative_inputs() -> None:
    clock, bus, inputs = _adc()
    adc = Ads1115(bus, 0x48, clock=clock)
    assert adc.convert(AdsInput("a0-a1", 2.048)) == -1.0
    assert adc.convert(AdsInput("a2-a3", 4.096)) == pytest.approx(-2.875)
    inputs["a0"] = -0.1
    assert adc.convert(AdsInput("a0", 0.256)) == pytest.approx(-0.1, abs=0.256 / 32768)


def test_inputs_beyond_full_scale_clip() -> None:
    clock, bus, _ = _adc(a0=5.0, a1=-5.0)
    adc = Ads1115(bus, 0x48, clock=clock)
    assert adc.convert(AdsInput("a0", 2.048)) == 2.048 * 32767 / 32768
    assert adc.convert(AdsInput("a1", 2.048)) == -2.048


def test_unknown_data_rate_is_refused() -> None:
    with pytest.raises(
        ValueError, match="ADS1115 data rate 100 SPS is not one of 8, 16"
    ):
        Ads1115(EmulatedBus(), clock=SimClock(), data_rate_sps=100)
