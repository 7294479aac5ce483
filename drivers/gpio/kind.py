"""The ``gpio`` device kind: digital inputs, relays and PWM outputs on gpiozero.

A ``gpio`` device is the board's header; its points are inputs and its
actuators are outputs, each on a BCM pin number::

    [[devices]]
    name = "io"
    kind = "gpio"
    pin_factory = "mock"      # lgpio, rpigpio, native; default: automatic
    emulate = false           # true: mock pins coupled to the simulated plant

    [[points]]
    name = "door_open"
    device = "io"
    pin = 17
    pull_up = true            # switch to ground; active when low
    bounce_s = 0.05           # a level must hold this long to count
    quantity = "state"        # 1/0; "count" counts activations
    plant_signal = "door_open"  # emulate only: the plant drives this pin

    [[actuators]]
    name = "heater"
    device = "io"
    pin = 27
    active_high = false       # relay boards that switch on a low level
    safe_value = 0
    plant_input = "heater"    # emulate only: this pin drives the plant heater

    [[actuators]]
    name = "fan"
    device = "io"
    kind = "analog"           # a PWM output, duty 0..1
    pin = 18
    frequency_hz = 25000
    plant_input = "fan"

Outputs start in their safe state without a glitch: gpiozero is given the
safe value as ``initial_value``, so the pin goes from input straight to the
inactive level. Inputs are debounced on the agent's clock
(``drivers.gpio.debounce``); ``bounce_s`` is also passed to gpiozero so a
backend that filters edges in the kernel does so too.

With ``emulate = true`` the device runs on mock pins of its own, coupled
to the simulated plant (``drivers.gpio.emulate``): ``plant_input`` on an
actuator feeds the pin's level to the plant's ``heater`` (a relay only) or
``fan``, and ``plant_signal`` on a point drives the input pin from an
on/off plant signal (``door_open`` or ``heater_on``) before each read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.config.checker import Table
from agent.config.schema import DeviceConfig
from drivers.base import DriverContext
from drivers.gpio.factory import NAMES
from drivers.sim.plant import INPUTS

if TYPE_CHECKING:
    from drivers.gpio.device import GpioDevice

log = logging.getLogger(__name__)

# The on/off plant signals an emulated input pin can follow.
PLANT_SIGNALS = ("door_open", "heater_on")

MAX_PIN = 27  # BCM numbers on the 40-pin header


@dataclass(frozen=True)
class GpioOptions:
    """A ``gpio`` device: which pin factory to use ("" for automatic).

    ``emulate`` puts the device on mock pins coupled to the simulated plant.
    """

    pin_factory: str = ""
    emulate: bool = False


@dataclass(frozen=True)
class InputPin:
    """A point on a digital input; ``quantity`` is ``state`` or ``count``."""

    pin: int
    pull_up: bool = True
    bounce_s: float = 0.0
    quantity: str = "state"
    plant_signal: str = ""


@dataclass(frozen=True)
class OutputPin:
    """An actuator on a digital output (a relay) or a PWM output."""

    pin: int
    active_high: bool = True
    pwm: bool = False
    frequency_hz: float = 100.0
    plant_input: str = ""


class GpioKind:
    """The ``gpio`` device kind."""

    name = "gpio"
    min_period_s = 0.01

    def parse_device(self, t: Table) -> GpioOptions:
        pin_factory = t.str("pin_factory", "", choices=("", *NAMES))
        emulate = t.bool("emulate")
        if emulate and pin_factory not in ("", "mock"):
            t.error(
                "pin_factory",
                f"{pin_factory!r} cannot be used with emulate = true "
                '(emulated pins are mock pins; leave pin_factory out or set "mock")',
            )
        return GpioOptions(pin_factory, emulate)

    def parse_point(self, t: Table, device: DeviceConfig) -> InputPin:
        spec = InputPin(
            pin=t.int("pin", 0, required=True, min=0, max=MAX_PIN),
            pull_up=t.bool("pull_up", True),
            bounce_s=t.number("bounce_s", 0.0, min=0, max=10, unit="s"),
            quantity=t.str("quantity", "state", choices=("state", "count")),
            plant_signal=t.str("plant_signal", "", choices=PLANT_SIGNALS),
        )
        if spec.plant_signal:
            _needs_emulation(t, "plant_signal", device)
        return spec

    def parse_actuator(self, t: Table, device: DeviceConfig) -> OutputPin:
        analog = t.data.get("kind", "binary") == "analog"
        pwm = t.bool("pwm", analog)
        if analog and not pwm:
            t.error("pwm", "an analog actuator needs a PWM output (pwm = true)")
        spec = OutputPin(
            pin=t.int("pin", 0, required=True, min=0, max=MAX_PIN),
            active_high=t.bool("active_high", True),
            pwm=pwm,
            frequency_hz=t.number("frequency_hz", 100.0, min=0.1, max=1e6, unit="Hz"),
            plant_input=t.str("plant_input", "", choices=INPUTS),
        )
        if spec.plant_input:
            _needs_emulation(t, "plant_input", device)
        if spec.plant_input == "heater" and pwm:
            t.error(
                "plant_input",
                "'heater' is switched by a relay; it needs a digital output "
                "(pwm = false)",
            )
        return spec

    def open(self, device: DeviceConfig, ctx: DriverContext) -> GpioDevice:
        # NOTE: gpiozero (about 7 MB resident) is imported only when a GPIO
        # device is opened, so a site without one never loads it (PLC0415).
        from drivers.gpio.device import GpioDevice  # noqa: PLC0415
        from drivers.gpio.emulate import emulated_factory, plant_coupling  # noqa: PLC0415
        from drivers.gpio.factory import make_factory  # noqa: PLC0415

        options: GpioOptions = device.options or GpioOptions()
        points = [p for p in ctx.config.points if p.device == device.name]
        actuators = [a for a in ctx.config.actuators if a.device == device.name]
        if not options.emulate:
            factory = make_factory(device.name, options.pin_factory)
            return GpioDevice(
                device.name, factory, ctx, points=points, actuators=actuators
            )
        factory = emulated_factory()
        return GpioDevice(
            device.name,
            factory,
            ctx,
            points=points,
            actuators=actuators,
            plant=plant_coupling(factory, ctx),
        )


def _needs_emulation(t: Table, key: str, device: DeviceConfig) -> None:
    if not getattr(device.options, "emulate", False):
        t.error(
            key,
            f"needs emulate = true on GPIO device {device.name!r} "
            "(only emulated pins are coupled to the simulated plant)",
        )


GPIO_KIND = GpioKind()
