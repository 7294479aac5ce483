"""SHT3x: CRC-8, conversion, and single-shot reads from the emulated chip."""

from __future__ import annotations

import pytest
from smbus2 import i2c_msg

from agent.clock import SimClock
from agent.errors import DeviceError
from agent.reading import Quality
from drivers.i2c.emu.bus import EmulatedBus
from drivers.i2c.emu.sht3x import EmulatedSht3x, raw_humidity, raw_temperature
from drivers.i2c.sht3x import Sht3x, crc8, humidity_pct, read_status, temperature_c


def test_crc_of_the_datasheet_example() -> None:
    assert crc8(bytes((0xBE, 0xEF))) == 0x92


def test_crc_of_zero_follows_the_polynomial() -> None:
    # Init 0xFF: the first byte 0x00 leaves 0xFF shifted through poly 0x31.
    assert crc8(b"\x00\x00") == 0x81


def test_conversion_formulas() -> None:
    assert temperature_c(0) == -45.0
    assert temperature_c(0xFFFF) == 130.0
    assert temperature_c(0x6666) == pytest.approx(-45 + 175 * 0x6666 / 65535)
    assert humidity_pct(0) == 0.0
    assert humidity_pct(0xFFFF) == 100.0
    assert humidity_pct(0x8000) == pytest.approx(50.00076, abs=1e-5)


def _chip(**values: float) -> tuple[SimClock, EmulatedBus, EmulatedSht3x]:
    clock = SimClock()
    physical = {"temperature_c": -20.5, "humidity_pct": 80.1, **values}
    emu = EmulatedSht3x(lambda: physical, clock=clock)
    return clock, EmulatedBus({0x44: emu}), emu


@pytest.mark.parametrize(
    ("t_c", "rh"), [(-40.0, 0.0), (-20.5, 80.1), (25.0, 45.0), (125.0, 100.0)]
)
def test_single_shot_end_to_end(t_c: float, rh: float) -> None:
    clock, bus, _ = _chip(temperature_c=t_c, humidity_pct=rh)
    t0 = clock.now()
    out = Sht3x(bus, 0x44, clock=clock).measure()
    assert clock.now() - t0 == pytest.approx(0.0155, abs=1e-6)
    assert bus.transactions[0x44] == 2
    assert out["temperature"].value == temperature_c(raw_temperature(t_c))
    assert out["temperature"].value == pytest.approx(t_c, abs=175 / 65535)
    assert out["humidity"].value == pytest.approx(rh, abs=100 / 65535)


def test_bad_crc_gives_a_decode_error_for_that_word_only() -> None:
    clock, bus, emu = _chip()
    emu.corrupt_next_crc(1)
    out = Sht3x(bus, 0x44, clock=clock).measure()
    assert out["temperature"].quality is Quality.DECODE_ERROR
    assert out["temperature"].reason.startswith("CRC mismatch: word 0x")
    assert out["humidity"].quality is Quality.GOOD
    assert out["humidity"].value == humidity_pct(raw_humidity(80.1))


def test_read_before_the_measurement_is_done_is_not_acknowledged() -> None:
    clock, bus, _ = _chip()
    bus.i2c_rdwr(i2c_msg.write(0x44, [0x24, 0x00]))
    with pytest.raises(OSError) as err:
        bus.i2c_rdwr(i2c_msg.read(0x44, 6))
    assert err.value.errno == 121
    clock.advance(0.0125)
    reply = i2c_msg.read(0x44, 6)
    bus.i2c_rdwr(reply)
    assert crc8(bytes(reply)[0:2]) == bytes(reply)[2]


def test_setup_checks_the_status_crc() -> None:
    clock, bus, emu = _chip()
    sht = Sht3x(bus, 0x44, clock=clock)
    sht.setup()
    emu.corrupt_next_crc()
    with pytest.raises(DeviceError, match="0x44 sent a status word with a wrong CRC"):
        sht.setup()


def test_status_register_read_with_crc() -> None:
    _, bus, emu = _chip()
    emu.status = 0x8010
    assert read_status(bus, 0x44) == 0x8010
    emu.corrupt_next_crc()
    assert read_status(bus, 0x44) is None
