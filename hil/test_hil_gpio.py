"""GPIO end to end: relays, a loop-back wire, a chattering switch and PWM.

The emulated cases run on gpiozero mock pins, with the output pin of the
loop-back connected to its input pin as the wire would; the loop-back case
runs on real pins too when EDGETWIN_HIL_GPIO_OUT, EDGETWIN_HIL_GPIO_IN and
GPIOZERO_PIN_FACTORY describe a wire on the board.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gpiozero import Factory
from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin

from agent.clock import Clock, RealClock, SimClock
from agent.config import Config, parse_config
from drivers.base import DriverContext
from drivers.gpio.device import GpioDevice
from drivers.gpio.factory import make_factory

OUT_PIN = 23  # the loop-back wire on the mock board
IN_PIN = 24


def gpio_config(out_pin: int, in_pin: int) -> Config:
    """Return the board's GPIO device: a loop-back, a switch, a relay and a fan."""
    text = f"""
[[devices]]
name = "io"
kind = "gpio"

[[points]]
name = "loop_in"
device = "io"
pin = {in_pin}
pull_up = false

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
name = "loop_out"
device = "io"
pin = {out_pin}
safe_value = 0

[[actuators]]
name = "heater"
device = "io"
pin = 27
active_high = false
safe_value = 0

[[actuators]]
name = "fan"
device = "io"
kind = "analog"
pin = 18
frequency_hz = 25000
safe_value = 0.2
"""
    return parse_config(text, "hil-gpio.toml")


def open_io(config: Config, factory: Factory, clock: Clock) -> GpioDevice:
    """Open the configured pins on ``factory``, as the ``gpio`` kind does."""
    return GpioDevice(
        "io",
        factory,
        DriverContext(clock=clock, config=config),
        points=config.points,
        actuators=config.actuators,
    )


class WiredPin(MockPWMPin):  # type: ignore[misc]
    """A mock output pin with a wire to ``input_pin``, which follows its level."""

    def __init__(self, factory: Any, info: Any, input_pin: MockPin) -> None:
        super().__init__(factory, info)
        self.input_pin = input_pin

    def _change_state(self, value: float) -> bool:
        if value:
            self.input_pin.drive_high()
        else:
            self.input_pin.drive_low()
        return bool(super()._change_state(value))


def wired_mock_factory(out_pin: int, in_pin: int) -> MockFactory:
    """Return mock pins with ``out_pin`` wired to ``in_pin``."""
    factory = MockFactory(pin_class=MockPWMPin)
    factory.pin(out_pin, pin_class=WiredPin, input_pin=factory.pin(in_pin))
    return factory


@pytest.fixture
def board() -> Iterator[tuple[Config, SimClock, GpioDevice]]:
    config = gpio_config(OUT_PIN, IN_PIN)
    clock = SimClock()
    with open_io(config, wired_mock_factory(OUT_PIN, IN_PIN), clock) as device:
        yield config, clock, device


def wait_for(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Return once ``condition()`` holds, or False after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    tick = threading.Event()
    while not condition():
        if time.monotonic() >= deadline:
            return False
        tick.wait(0.001)
    return True


def check_loop_back(config: Config, device: GpioDevice, timeout_s: float) -> None:
    """Drive the loop-back output and read the level at the input end of the wire."""
    out, (loop_in,) = config.actuator("loop_out"), [config.point("loop_in")]
    assert wait_for(lambda: device.read([loop_in])[0].value == 0.0, timeout_s)
    for level in (1.0, 0.0, 1.0, 0.0):
        assert device.write(out, level) == level

        def follows(level: float = level) -> bool:
            return device.read([loop_in])[0].value == level

        seen = wait_for(follows, timeout_s)
        assert seen, f"loop_in did not follow loop_out to {level:g} in {timeout_s} s"


def test_loop_back_on_mock_pins(board: tuple[Config, SimClock, GpioDevice]) -> None:
    config, _, device = board
    # The mock wire carries the level at once: nothing to wait for.
    check_loop_back(config, device, timeout_s=0.0)


def test_relay_starts_safe_without_a_glitch(
    board: tuple[Config, SimClock, GpioDevice],
) -> None:
    _, _, device = board
    # Active-low heater relay: only ever driven high (off) since it was opened.
    heater = device.factory.pin(27)
    assert heater.function == "output"
    assert [s.state for s in heater.states[1:]] == [1] * (len(heater.states) - 1)
    assert len(heater.states) > 1
    # The far end of the loop-back wire never saw the output high.
    far_end = device.factory.pin(IN_PIN)
    assert all(s.state == 0 for s in far_end.states)


def test_relay_driven_and_read_back(
    board: tuple[Config, SimClock, GpioDevice],
) -> None:
    config, _, device = board
    heater, pin = config.actuator("heater"), device.factory.pin(27)
    assert device.write(heater, 1.0) == 1.0
    assert pin.state == 0  # active low: on is a low pin
    assert device.write(heater, 0.3) == 0.0  # below 0.5 is off
    assert pin.state == 1


def test_chattering_switch_counts_once_per_press(
    board: tuple[Config, SimClock, GpioDevice],
) -> None:
    config, clock, device = board
    points = [config.point("door_open"), config.point("door_openings")]
    pin = device.factory.pin(17)
    assert [s.value for s in device.read(points)] == [0.0, 0.0]

    for press in range(1, 4):
        # Press: five bounces 8 ms apart, then the contact holds.
        for _ in range(5):
            pin.drive_low()
            clock.advance(0.004)
            pin.drive_high()
            clock.advance(0.004)
        pin.drive_low()
        clock.advance(0.03)
        assert [s.value for s in device.read(points)] == [0.0, press - 1]
        clock.advance(0.03)
        assert [s.value for s in device.read(points)] == [1.0, press]

        # Release with the same chatter.
        for _ in range(5):
            pin.drive_high()
            clock.advance(0.004)
            pin.drive_low()
            clock.advance(0.004)
        pin.drive_high()
        clock.advance(0.06)
        assert [s.value for s in device.read(points)] == [0.0, press]


def test_pwm_duty_and_frequency(board: tuple[Config, SimClock, GpioDevice]) -> None:
    config, _, device = board
    fan, pin = config.actuator("fan"), device.factory.pin(18)
    assert pin.frequency == 25000
    assert pin.state == pytest.approx(0.2)  # its safe duty from the start
    assert max(s.state for s in pin.states) == pytest.approx(0.2)
    for duty in (0.0, 0.65, 1.0):
        assert device.write(fan, duty) == pytest.approx(duty)
        assert pin.state == pytest.approx(duty)
    assert device.write(fan, -0.5) == 0.0  # clamped to 0..1
    assert pin.frequency == 25000


def test_loop_back_on_real_pins(real_gpio_loop: tuple[str, int, int]) -> None:
    backend, out_pin, in_pin = real_gpio_loop
    config = gpio_config(out_pin, in_pin)
    factory = make_factory("io", backend)
    with open_io(config, factory, RealClock()) as device:
        check_loop_back(config, device, timeout_s=1.0)
