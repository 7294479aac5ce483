"""An open ``gpio`` device: gpiozero devices on the pins the configuration names."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from gpiozero import DigitalInputDevice, DigitalOutputDevice, Factory, PWMOutputDevice
from gpiozero.exc import GPIOZeroError

from agent.config.schema import ActuatorConfig, PointConfig
from agent.errors import DeviceError
from agent.reading import Quality, Sample
from drivers.base import DriverContext
from drivers.gpio.debounce import Debouncer
from drivers.gpio.emulate import PlantCoupling
from drivers.gpio.kind import InputPin, OutputPin

log = logging.getLogger(__name__)


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
