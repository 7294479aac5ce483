"""Couple a ``gpio`` device's mock pins to the simulated plant.

With ``emulate = true`` a ``gpio`` device runs on its own gpiozero
``MockFactory`` whose pins are ``PlantPin``: PWM-capable mock pins that
report every level they are driven to. An actuator with ``plant_input``
drives that plant input from the pin's level, so the plant sees the
physical output, wiring polarity included: an active-low relay switches
the heater on when its pin is low, whatever value was asked for.

An input point with ``plant_signal`` has its pin driven, before each read,
to the level a switch on that signal would give: the active level (low
with a pull-up, high with a pull-down) while the signal is on. The driver
then debounces the pin as it would a real one.

A released pin drives nothing: the plant keeps the last level it was
driven to, and a relay's pin keeps its level as on the hardware backends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPWMPin

from agent.clock import Clock
from drivers.base import DriverContext
from drivers.gpio.kind import PLANT_SIGNALS
from drivers.sim.driver import shared_plant
from drivers.sim.plant import Plant

# Plant signals that are on or off, and so can drive a digital input.


class PlantPin(MockPWMPin):  # type: ignore[misc]
    """A PWM-capable mock pin that calls ``on_drive`` with each level written."""

    def __init__(self, factory: Any, info: Any) -> None:
        super().__init__(factory, info)
        self.on_drive: Callable[[float], None] | None = None

    def _set_state(self, value: float) -> None:
        super()._set_state(value)
        if self.on_drive is not None:
            self.on_drive(float(self._state))

    def _set_frequency(self, value: float | None) -> None:
        # Releasing a pin that never ran PWM leaves its level alone, as the
        # hardware backends do (a plain MockPWMPin drops it to 0, which would
        # close an active-low relay).
        if value is None and self._frequency is None:
            return
        super()._set_frequency(value)


def emulated_factory() -> MockFactory:
    """Return a new mock pin factory whose pins are ``PlantPin``."""
    return MockFactory(pin_class=PlantPin)


def signal_on(plant: Plant, signal: str, t_s: float) -> bool:
    """Return whether the on/off plant ``signal`` is on at ``t_s``.

    Read without the sensor noise of ``Plant.signals``, so that polling a
    contact draws nothing from the plant's random stream.
    """
    plant.advance_to(t_s)
    if signal == "door_open":
        return plant.fault_active("door_open", t_s) is not None
    if signal == "heater_on":
        return plant.state is not None and plant.state.heater_on
    raise ValueError(
        f"plant signal {signal!r} is not one of {', '.join(PLANT_SIGNALS)}"
    )


class PlantCoupling:
    """The links between one device's mock pins and the shared plant."""

    def __init__(self, factory: MockFactory, plant: Plant, clock: Clock) -> None:
        self.factory = factory
        self.plant = plant
        self.clock = clock
        self.inputs: dict[int, tuple[str, bool]] = {}

    def couple_output(self, pin: int, plant_input: str, active_high: bool) -> None:
        """Make every level written to ``pin`` drive ``plant_input``.

        Call before the gpiozero device claims the pin, so that its first
        (safe) level reaches the plant too.
        """
        mock: PlantPin = self.factory.pin(pin)
        plant = self.plant
        clock = self.clock

        def drive(level: float) -> None:
            active = level if active_high else 1.0 - level
            if plant_input == "heater":
                plant.set_heater(clock.now(), active >= 0.5)
            else:
                plant.set_fan(clock.now(), active)

        mock.on_drive = drive

    def couple_input(self, pin: int, signal: str, pull_up: bool) -> None:
        """Drive input ``pin`` from plant ``signal``; drive it once now."""
        self.inputs[pin] = (signal, pull_up)
        self.drive_inputs()

    def drive_inputs(self) -> None:
        """Set every coupled input pin from its plant signal at the clock's now."""
        t_s = self.clock.now()
        for pin, (signal, pull_up) in self.inputs.items():
            high = signal_on(self.plant, signal, t_s) != pull_up
            mock: PlantPin = self.factory.pin(pin)
            if high:
                mock.drive_high()
            else:
                mock.drive_low()


def plant_coupling(factory: MockFactory, ctx: DriverContext) -> PlantCoupling:
    """Return a coupling of ``factory``'s pins to the agent's shared plant."""
    return PlantCoupling(factory, shared_plant(ctx), ctx.clock)
