"""GPIO on gpiozero mock pins: relays that start safe, debounced inputs, PWM outputs."""

from __future__ import annotations

import importlib.util

import pytest
from gpiozero import Device, DigitalOutputDevice
from gpiozero.pins.mock import MockFactory, MockPWMPin

from agent.clock import SimClock
from agent.config import parse_config
from agent.config.schema import Config
from agent.errors import ConfigError, DeviceError
from agent.reading import Quality
from drivers.base import DriverContext
from drivers.gpio.debounce import Debouncer
from drivers.gpio.device import GpioDevice
from drivers.gpio.factory import make_factory
from drivers.registry import kinds

CONFIG = """
[[devices]]
name = "io"
kind = "gpio"
pin_factory = "mock"

[[points]]
name = "door_open"
device = "io"
pin = 17
pull_up = true
bounce_s = 0.05

[[points]]
name = "door_openings"
device = "io"
pin = 17
bounce_s = 0.05
quantity = "count"

[[actuators]]
name = "heater"
device = "io"
pin = 27
active_high = false

[[actuators]]
name = "lamp"
device = "io"
pin = 22

[[actuators]]
name = "fan"
device = "io"
kind = "analog"
pin = 18
frequency_hz = 25000
safe_value = 0.2
"""


def _open(text: str = CONFIG) -> tuple[Config, SimClock, GpioDevice]:
    config = parse_config(text)
    clock = SimClock()
    device = kinds()["gpio"].open(config.device("io"), DriverContext(clock, config))
    assert isinstance(device, GpioDevice)
    return config, clock, device


def test_no_class_wide_pin_factory_is_set() -> None:
    _, _, device = _open()
    with device:
        assert Device.pin_factory is None
        assert isinstance(device.factory, MockFactory)


def test_active_low_relay_starts_off_without_a_glitch() -> None:
    config, _, device = _open()
    with device:
        pin = device.factory.pin(27)
        assert pin.function == "output"
        # Before output: the floating mock input. Once driven: only the
        # inactive (high) level, never the low level that closes the relay.
        driven = [s.state for s in pin.states[1:]]
        assert driven and all(s == 1 for s in driven)
        assert pin.state == 1

        assert device.write(config.actuator("heater"), 1.0) == 1.0
        assert pin.state == 0
        assert device.write(config.actuator("heater"), 0.0) == 0.0
        assert pin.state == 1


def test_active_high_relay_is_never_driven_high_at_start() -> None:
    _, _, device = _open()
    with device:
        pin = device.factory.pin(22)
        assert pin.function == "output"
        assert all(s.state == 0 for s in pin.states)


def test_without_initial_value_an_active_low_relay_would_click() -> None:
    # What the driver avoids: gpiozero left to make the pin an output as it is.
    factory = MockFactory()
    relay = DigitalOutputDevice(
        27, active_high=False, initial_value=None, pin_factory=factory
    )
    assert factory.pin(27).state == 0  # low: an active-low relay closes
    assert relay.value == 1
    relay.close()
    factory.close()


def test_pwm_output_frequency_and_duty() -> None:
    config, _, device = _open()
    with device:
        pin = device.factory.pin(18)
        assert pin.frequency == 25000
        assert pin.state == pytest.approx(0.2)  # started at its safe value
        assert device.write(config.actuator("fan"), 0.65) == pytest.approx(0.65)
        assert pin.state == pytest.approx(0.65)
        assert device.write(config.actuator("fan"), 1.7) == 1.0


def test_input_is_debounced_on_the_agent_clock() -> None:
    config, clock, device = _open()
    points = [config.point("door_open"), config.point("door_openings")]
    with device:
        pin = device.factory.pin(17)
        assert [s.value for s in device.read(points)] == [0.0, 0.0]  # pulled up

        # Contact bounce: low, high, low within 20 ms, then read 10 ms later.
        pin.drive_low()
        clock.advance(0.01)
        pin.drive_high()
        clock.advance(0.01)
        pin.drive_low()
        clock.advance(0.01)
        assert [s.value for s in device.read(points)] == [0.0, 0.0]

        # Held low beyond the bounce time: it counts, once.
        clock.advance(0.05)
        assert [s.value for s in device.read(points)] == [1.0, 1.0]

        # A 10 ms blip high is ignored; a real release is seen.
        pin.drive_high()
        clock.advance(0.01)
        pin.drive_low()
        clock.advance(0.1)
        assert [s.value for s in device.read(points)] == [1.0, 1.0]
        pin.drive_high()
        clock.advance(0.06)
        assert [s.value for s in device.read(points)] == [0.0, 1.0]


def test_debouncer_settles_on_edges_too() -> None:
    clock = SimClock()
    deb = Debouncer(clock, 0.05, level=False)
    deb.edge(True)
    clock.advance(0.06)
    deb.edge(False)  # the high level held 60 ms before this edge: it counts
    clock.advance(0.01)
    assert deb.read() == (True, 1)
    clock.advance(0.05)
    assert deb.read() == (False, 1)


def test_closed_device_gives_bad_samples_and_refuses_writes() -> None:
    config, _, device = _open()
    device.close()
    device.close()
    (sample,) = device.read([config.point("door_open")])
    assert sample.quality is Quality.DEVICE_ERROR
    with pytest.raises(DeviceError, match="'heater' is closed"):
        device.write(config.actuator("heater"), 1.0)


def test_factory_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    factory = make_factory("io")
    assert isinstance(factory, MockFactory)
    assert factory.pin_class is MockPWMPin
    factory.close()

    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "bogus")
    with pytest.raises(DeviceError) as err:
        make_factory("io")
    assert str(err.value) == (
        "GPIO device 'io': pin factory 'bogus' (from GPIOZERO_PIN_FACTORY) is not "
        "one of mock, lgpio, rpigpio, native, pigpio"
    )


@pytest.mark.skipif(
    importlib.util.find_spec("RPi") is not None, reason="RPi.GPIO is installed here"
)
def test_no_gpio_access_says_what_to_do() -> None:
    with pytest.raises(DeviceError) as err:
        make_factory("io", "rpigpio")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("GPIO device 'io': no GPIO access (rpigpio: ")
    assert msg.endswith(
        "add the user to the gpio group (sudo usermod -aG gpio $USER, then log in "
        'again), or set pin_factory = "mock" on the device to run without hardware'
    )


def test_pin_clash_is_a_device_error() -> None:
    text = CONFIG.replace("pin = 22", "pin = 27")
    config = parse_config(text)
    with pytest.raises(DeviceError, match="GPIO device 'io': "):
        kinds()["gpio"].open(config.device("io"), DriverContext(SimClock(), config))


def test_configuration_errors() -> None:
    bad = CONFIG.replace("frequency_hz = 25000", "frequency_hz = 25000\npwm = false")
    bad = bad.replace("pin = 17\npull_up", "pin = 40\npull_up")
    with pytest.raises(ConfigError) as err:
        parse_config(bad, "site.toml")
    assert err.value.problems == [
        "site.toml: points[0].pin: 40 is out of range (allowed 0 to 27)",
        "site.toml: actuators[2].pwm: an analog actuator needs a PWM output "
        "(pwm = true)",
    ]
