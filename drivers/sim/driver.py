"""The ``sim`` device kind: reads the simulated plant's signals with no bus at all.

Points name a plant signal as their address (``address = "cabinet_temp_c"``);
actuators name a plant input (``"heater"`` or ``"fan"``). Faults are given on
the device, in plant time from the first reading::

    [[devices]]
    name = "plant"
    kind = "sim"
    seed = 7
    faults = [{ kind = "fan_stop", start_h = 30, duration_h = 4 }]

Besides the physical faults, ``device_hang`` makes every read block until the
device is closed, as a wedged bus would, for testing the runtime's timeouts.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from agent.config.checker import Table
from agent.config.schema import ActuatorConfig, DeviceConfig, PointConfig
from agent.reading import Quality, Sample
from drivers.base import DriverContext
from drivers.sim.plant import FAULT_KINDS, INPUTS, SIGNALS, Fault, Plant


@dataclass(frozen=True)
class SimOptions:
    """Settings of a ``sim`` device."""

    seed: int = 1
    faults: tuple[Fault, ...] = ()
    hang: tuple[Fault, ...] = ()


def plant_for(ctx: DriverContext, options: SimOptions) -> Plant:
    """Return the one plant that every device of this agent shares."""
    return ctx.get_shared(
        "plant", lambda: Plant(faults=options.faults, seed=options.seed)
    )


def shared_plant(ctx: DriverContext) -> Plant:
    """Return the plant every emulated device shares, with the ``sim`` device's faults.

    Emulated chips, meters and pins call this; the first caller makes the
    plant from the configuration's ``sim`` device (seed and faults), or from
    the defaults when there is none.
    """
    options = next(
        (
            d.options
            for d in ctx.config.devices
            if d.kind == "sim" and isinstance(d.options, SimOptions)
        ),
        SimOptions(),
    )
    return plant_for(ctx, options)


def parse_faults(t: Table, allowed: Sequence[str]) -> tuple[Fault, ...]:
    """Read ``faults``: an array of tables with kind, start_h, duration_h, magnitude."""
    faults = []
    for f in t.tables("faults"):
        kind = f.str("kind", required=True, choices=allowed)
        start_h = f.number("start_h", 0.0, min=0, unit="h")
        duration_h = f.number("duration_h", 1.0, min=0, unit="h")
        magnitude = f.number("magnitude", 1.0 if kind != "sensor_drift" else 0.5)
        f.finish()
        if kind:
            faults.append(Fault(kind, start_h * 3600.0, duration_h * 3600.0, magnitude))
    return tuple(faults)


class SimKind:
    """The ``sim`` device kind."""

    name = "sim"
    min_period_s = 0.01

    def parse_device(self, t: Table) -> SimOptions:
        seed = t.int("seed", 1, min=0)
        faults = parse_faults(t, (*FAULT_KINDS, "device_hang"))
        return SimOptions(
            seed=seed,
            faults=tuple(f for f in faults if f.kind != "device_hang"),
            hang=tuple(f for f in faults if f.kind == "device_hang"),
        )

    def parse_point(self, t: Table, device: DeviceConfig) -> str:
        return t.str("address", required=True, choices=SIGNALS)

    def parse_actuator(self, t: Table, device: DeviceConfig) -> str:
        return t.str("address", required=True, choices=INPUTS)

    def open(self, device: DeviceConfig, ctx: DriverContext) -> SimDevice:
        return SimDevice(device, ctx)


class SimDevice:
    """An open ``sim`` device."""

    def __init__(self, device: DeviceConfig, ctx: DriverContext) -> None:
        self.name = device.name
        self.options: SimOptions = device.options or SimOptions()
        self.plant = plant_for(ctx, self.options)
        self.clock = ctx.clock
        self._closed = threading.Event()

    def read(self, points: Sequence[PointConfig]) -> list[Sample]:
        t = self.clock.now()
        start = self.plant.t0_s if self.plant.t0_s is not None else t
        if any(f.active(t - start) for f in self.options.hang):
            self._closed.wait()
            return [Sample.bad(Quality.DEVICE_ERROR, "device closed") for _ in points]
        signals = self.plant.signals(t)
        return [Sample(signals[p.address]) for p in points]

    def write(self, actuator: ActuatorConfig, value: float) -> float:
        t = self.clock.now()
        if actuator.address == "heater":
            self.plant.set_heater(t, value >= 0.5)
            return 1.0 if value >= 0.5 else 0.0
        self.plant.set_fan(t, value)
        return min(1.0, max(0.0, value))

    def close(self) -> None:
        self._closed.set()


SIM_KIND = SimKind()
