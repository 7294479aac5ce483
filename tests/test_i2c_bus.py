"""The emulated I2C bus, injected faults, retries, and configured I2C devices."""

from __future__ import annotations

import pytest
from smbus2 import i2c_msg

from agent.clock import SimClock
from agent.config import PointConfig, parse_config
from agent.errors import ConfigError, DeviceError
from agent.reading import Quality
from drivers.base import DriverContext
from drivers.i2c.bme280 import Bme280
from drivers.i2c.device import I2CDevice
from drivers.i2c.emu.bme280 import EmulatedBme280
from drivers.i2c.emu.bus import EmulatedBus
from drivers.i2c.emu.ina219 import EmulatedIna219
from drivers.i2c.kinds import _pick
from drivers.registry import kinds


def test_absent_address_raises_errno_121() -> None:
    bus = EmulatedBus()
    for call in (
        lambda: bus.read_i2c_block_data(0x76, 0xD0, 1),
        lambda: bus.write_byte_data(0x76, 0xF4, 1),
        lambda: bus.write_quick(0x76),
        lambda: bus.i2c_rdwr(i2c_msg.write(0x76, [0xD0])),
    ):
        with pytest.raises(OSError) as err:
            call()
        assert err.value.errno == 121
    assert bus.transactions[0x76] == 4


def test_chip_fails_for_n_transactions_then_answers() -> None:
    clock = SimClock()
    chip = EmulatedIna219(lambda: {"current_a": 0.0, "bus_voltage_v": 0.0}, clock=clock)
    bus = EmulatedBus({0x40: chip})
    chip.fail(2)
    for _ in range(2):
        with pytest.raises(OSError):
            bus.read_i2c_block_data(0x40, 0x00, 2)
    assert bus.read_i2c_block_data(0x40, 0x00, 2) == [0x39, 0x9F]


def test_permanent_failure_until_recovered() -> None:
    chip = EmulatedIna219(lambda: {}, clock=SimClock())
    bus = EmulatedBus({0x40: chip})
    chip.fail(None)
    for _ in range(5):
        with pytest.raises(OSError):
            bus.write_quick(0x40)
    chip.recover()
    bus.write_quick(0x40)


def test_an_address_holds_one_chip() -> None:
    bus = EmulatedBus({0x40: EmulatedIna219(lambda: {}, clock=SimClock())})
    with pytest.raises(ValueError, match="I2C address 0x40 is already taken by INA219"):
        bus.attach(0x40, EmulatedIna219(lambda: {}, clock=SimClock()))


def _point(quantity: str) -> PointConfig:
    return PointConfig(name=quantity, device="env", address=quantity)


def _device(retries: int) -> tuple[I2CDevice, EmulatedBme280]:
    clock = SimClock()
    values = {"temperature_c": 21.5, "pressure_pa": 100000.0, "humidity_pct": 40.0}
    emu = EmulatedBme280(lambda: values, clock=clock)
    bus = EmulatedBus({0x76: emu})
    device = I2CDevice(
        name="env",
        chip=Bme280(bus, 0x76, clock=clock),
        reader=_pick,
        bus=bus,
        retries=retries,
        on_close=bus.close,
    )
    return device, emu


def test_errno_121_is_retried_within_the_bound() -> None:
    device, emu = _device(retries=2)
    assert device.read([_point("temperature")])[0].value == 21.5
    emu.fail(2)
    attempts = device.attempts
    (sample,) = device.read([_point("temperature")])
    assert sample.quality is Quality.GOOD and sample.value == 21.5
    assert device.attempts - attempts == 3


def test_errno_121_beyond_the_retries_is_a_bad_sample_not_an_exception() -> None:
    device, emu = _device(retries=1)
    emu.fail(None)
    samples = device.read([_point("temperature"), _point("humidity")])
    assert [s.quality for s in samples] == [Quality.DEVICE_ERROR] * 2
    assert samples[0].reason == (
        "BME280 at 0x76: I/O error after 2 attempts: "
        "[Errno 121] Remote I/O error: '0x76'"
    )
    emu.recover()
    assert device.read([_point("temperature")])[0].value == 21.5  # set up again


def test_wrong_chip_is_a_device_error_sample() -> None:
    clock = SimClock()
    bus = EmulatedBus({0x76: EmulatedBme280(lambda: {}, clock=clock, chip_id=0x58)})
    device = I2CDevice(
        name="env", chip=Bme280(bus, 0x76, clock=clock), reader=_pick,
        bus=bus, retries=3, on_close=bus.close,
    )  # fmt: skip
    (sample,) = device.read([_point("temperature")])
    assert sample.quality is Quality.DEVICE_ERROR
    assert "has id 0x58 (a BMP280" in sample.reason
    assert device.attempts == 1  # not retried
    with pytest.raises(DeviceError, match="has no outputs"):
        device.write(None, 1.0)  # type: ignore[arg-type]  # sensors have no outputs


CONFIG = """
[[devices]]
name = "env"
kind = "bme280"
address = 0x77
emulate = true
retries = 2

[[devices]]
name = "air"
kind = "sht3x"
repeatability = "medium"
emulate = true

[[devices]]
name = "adc"
kind = "ads1115"
emulate = true
signals = { a3 = "fan_bus_v" }

[[devices]]
name = "fan_meter"
kind = "ina219"
shunt_ohm = 0.1
max_current_a = 1.0
emulate = true

[[points]]
name = "cabinet_temp_c"
device = "env"
quantity = "temperature"

[[points]]
name = "pressure_pa"
device = "env"
quantity = "pressure"

[[points]]
name = "ambient_rh"
device = "air"
quantity = "humidity"

[[points]]
name = "fan_bus_v_div"
device = "adc"
channel = "a3"
full_scale_v = 6.144

[[points]]
name = "fan_bus_v"
device = "fan_meter"
quantity = "bus_voltage"

[[points]]
name = "fan_current_a"
device = "fan_meter"
quantity = "current"
"""


def test_configured_emulated_devices_read_the_plant() -> None:
    config = parse_config(CONFIG)
    ctx = DriverContext(clock=SimClock(), config=config)
    found: dict[str, float] = {}
    devices = [kinds()[d.kind].open(d, ctx) for d in config.devices]
    try:
        for dev in devices:
            pts = [p for p in config.points if p.device == dev.name]
            for p, s in zip(pts, dev.read(pts), strict=True):
                assert s.quality is Quality.GOOD and s.value is not None, (p.name, s)
                found[p.name] = s.value
    finally:
        for dev in devices:
            dev.close()
    assert -40 < found["cabinet_temp_c"] < 85
    assert found["pressure_pa"] == pytest.approx(101325, abs=500)
    assert 0 <= found["ambient_rh"] <= 100
    assert found["fan_bus_v"] == pytest.approx(12.0, abs=0.1)
    # 12 V on a3 is beyond the ±6.144 V range: the code clips at 0x7FFF.
    assert found["fan_bus_v_div"] == 6.144 * 32767 / 32768
    assert found["fan_current_a"] == pytest.approx(0.0, abs=0.01)  # the fan is off


def test_emulated_address_clash_is_one_line() -> None:
    text = CONFIG.replace(
        'name = "air"\nkind = "sht3x"', 'name = "air"\nkind = "sht3x"\naddress = 0x44'
    )
    text += '\n[[devices]]\nname = "air2"\nkind = "sht3x"\nemulate = true\n'
    config = parse_config(text)
    ctx = DriverContext(clock=SimClock(), config=config)
    kinds()["sht3x"].open(config.device("air"), ctx)
    with pytest.raises(DeviceError) as err:
        kinds()["sht3x"].open(config.device("air2"), ctx)
    assert str(err.value) == "device 'air2': I2C address 0x44 is already taken by SHT3x"


def test_configuration_errors_name_the_key_and_the_allowed_values() -> None:
    bad = """
[[devices]]
name = "env"
kind = "bme280"
address = 0x50
oversampling = 3

[[devices]]
name = "meter"
kind = "ina219"
shunt_ohm = 0.1
max_current_a = 5

[[points]]
name = "t"
device = "env"
quantity = "dew_point"

[[actuators]]
name = "x"
device = "env"
"""
    with pytest.raises(ConfigError) as err:
        parse_config(bad, "site.toml")
    assert err.value.problems == [
        "site.toml: devices[0].address: 0x50 is not a BME280 address "
        "(allowed: 0x76, 0x77)",
        "site.toml: devices[0].oversampling: 3 is not one of 1, 2, 4, 8, 16",
        "site.toml: devices[1].max_current_a: INA219: 5 A through 0.1 Ω is 500 mV, "
        "beyond the ±320 mV shunt range",
        "site.toml: points[0].quantity: 'dew_point' is not one of temperature, "
        "pressure, humidity",
        "site.toml: actuators[0].device: 'env' is a bme280 sensor; it has no outputs",
    ]


def test_missing_real_bus_is_one_line() -> None:
    config = parse_config(CONFIG.replace("emulate = true\nretries = 2", "bus = 97"))
    ctx = DriverContext(clock=SimClock(), config=config)
    with pytest.raises(DeviceError) as err:
        kinds()["bme280"].open(config.device("env"), ctx)
    assert str(err.value).startswith("/dev/i2c-97 does not exist: enable I2C")
    assert "\n" not in str(err.value)


def test_emulated_chips_share_the_sim_devices_plant() -> None:
    text = (
        CONFIG
        + """
[[devices]]
name = "plant"
kind = "sim"
seed = 5
faults = [{ kind = "door_open", start_h = 0, duration_h = 1 }]
"""
    )
    config = parse_config(text)
    ctx = DriverContext(clock=SimClock(), config=config)
    dev = kinds()["bme280"].open(config.device("env"), ctx)
    try:
        dev.read([_point("temperature")])
        plant = ctx.shared["plant"]
        assert plant.seed == 5
        assert [f.kind for f in plant.faults] == ["door_open"]
    finally:
        dev.close()
