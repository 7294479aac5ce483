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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gpiozero import DigitalInputDevice, DigitalOutputDevice, Factory, PWMOutputDevice
from gpiozero.exc import GPIOZeroError

from agent.config.checker import Table
from agent.config.schema import ActuatorConfig, DeviceConfig, PointConfig
from agent.errors import DeviceError
from agent.reading import Quality, Sample
from drivers.base import DriverContext
from drivers.gpio.debounce import Debouncer
from drivers.gpio.emulate import (
    PLANT_SIGNALS,
    PlantCoupling,
    emulated_factory,
    plant_coupling,
)
from drivers.gpio.factory import NAMES, make_factory
from drivers.sim.plant import INPUTS

log = logging.getLogger(__name__)

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


def _plant_signal(
    device: str, point: PointConfig, points: Sequence[PointConfig]
) -> str:
    """Return the plant signal that drives ``point``'s pin ("" for none)."""
    pin = point.address.pin
    found = {p.address.plant_signal for p in points if p.address.pin == pin} - {""}
    if len(found) > 1:
        raise DeviceError(
            f"GPIO device {device!r}: pin {pin} is given plant signals "
            f"{', '.join(sorted(found))}; one pin follows one signal"
        )
    return found.pop() if found else ""


class GpioDevice:
    """An open ``gpio`` device: one gpiozero device per pin, on its own factory.

    Raises ``DeviceError`` when a pin cannot be claimed; what was claimed
    before is released.
    """

    def __init__(
        self,
        name: str,
        factory: Factory,
        ctx: DriverContext,
        *,
        points: Sequence[PointConfig] = (),
        actuators: Sequence[ActuatorConfig] = (),
        plant: PlantCoupling | None = None,
    ) -> None:
        self.name = name
        self.factory = factory
        self.clock = ctx.clock
        self.plant = plant
        self.inputs: dict[int, tuple[DigitalInputDevice, Debouncer]] = {}
        self.outputs: dict[str, DigitalOutputDevice | PWMOutputDevice] = {}
        self._closed = False
        signals = {p.address.pin: _plant_signal(name, p, points) for p in points}
        try:
            for p in points:
                if p.address.pin not in self.inputs:
                    self._open_input(p.address, signals[p.address.pin])
            for a in actuators:
                self.outputs[a.name] = self._open_output(a)
        except GPIOZeroError as exc:
            self.close()
            raise DeviceError(f"GPIO device {name!r}: {exc}") from None

    def _open_input(self, spec: InputPin, plant_signal: str) -> None:
        dev = DigitalInputDevice(
            spec.pin,
            pull_up=spec.pull_up,
            bounce_time=spec.bounce_s or None,
            pin_factory=self.factory,
        )
        if self.plant is not None and plant_signal:
            self.plant.couple_input(spec.pin, plant_signal, spec.pull_up)
        deb = Debouncer(self.clock, spec.bounce_s, bool(dev.value))
        dev.when_activated = lambda: deb.edge(True)
        dev.when_deactivated = lambda: deb.edge(False)
        self.inputs[spec.pin] = (dev, deb)

    def _open_output(self, a: ActuatorConfig) -> DigitalOutputDevice | PWMOutputDevice:
        spec: OutputPin = a.address
        if self.plant is not None and spec.plant_input:
            self.plant.couple_output(spec.pin, spec.plant_input, spec.active_high)
        if spec.pwm:
            return PWMOutputDevice(
                spec.pin,
                active_high=spec.active_high,
                initial_value=min(1.0, max(0.0, a.safe_value)),
                frequency=spec.frequency_hz,
                pin_factory=self.factory,
            )
        return DigitalOutputDevice(
            spec.pin,
            active_high=spec.active_high,
            initial_value=a.safe_value >= 0.5,
            pin_factory=self.factory,
        )

    def read(self, points: Sequence[PointConfig]) -> list[Sample]:
        """Return each input's settled level (1 or 0) or its activation count."""
        if self.plant is not None and not self._closed:
            self.plant.drive_inputs()
        out = []
        for p in points:
            entry = self.inputs.get(p.address.pin)
            if entry is None or self._closed:
                out.append(Sample.bad(Quality.DEVICE_ERROR, "GPIO device closed"))
                continue
            level, count = entry[1].read()
            out.append(Sample(float(count if p.address.quantity == "count" else level)))
        return out

    def write(self, actuator: ActuatorConfig, value: float) -> float:
        """Drive an output: a relay on at 0.5 and above, a PWM duty 0..1.

        Returns the value read back from gpiozero; raises ``DeviceError``
        when the output is closed or the backend refuses.
        """
        dev = self.outputs.get(actuator.name)
        if dev is None or self._closed:
            raise DeviceError(f"GPIO device {self.name!r}: {actuator.name!r} is closed")
        try:
            if isinstance(dev, PWMOutputDevice):
                dev.value = min(1.0, max(0.0, value))
            else:
                dev.value = value >= 0.5
            return float(dev.value)
        except GPIOZeroError as exc:
            raise DeviceError(
                f"GPIO device {self.name!r}: write to {actuator.name!r}: {exc}"
            ) from None

    def close(self) -> None:
        """Release every pin, then the factory; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        devices: list[Any] = [d for d, _ in self.inputs.values()]
        devices += list(self.outputs.values())
        for dev in devices:
            dev.close()
        self.factory.close()

    def __enter__(self) -> GpioDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


GPIO_KIND = GpioKind()
