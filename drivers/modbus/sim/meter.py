"""The demo's energy meter: a Modbus TCP simulator fed by the simulated plant.

A ``modbus-tcp`` device with ``simulate = "energy_meter"`` and no ``host``
serves this meter on a free loopback port, in a background thread, for as
long as the device is open; the agent then reads it through the real
driver, over a real socket. The meter's input registers hold the plant's
voltage, current, power, energy and frequency as float32, where the shipped
``energy_meter`` profile places them, refreshed from the plant on the
agent's clock at each read.
"""

from __future__ import annotations

from dataclasses import replace

from pymodbus.constants import ExcCodes

from agent.clock import Clock
from agent.config.schema import DeviceConfig
from drivers.base import DriverContext
from drivers.modbus import profiles
from drivers.modbus.device import ModbusDevice, open_device
from drivers.modbus.sim.server import TcpSimServer
from drivers.modbus.sim.store import SimUnit
from drivers.sim.driver import shared_plant
from drivers.sim.plant import Plant

PROFILE = "energy_meter"


class PlantMeter(SimUnit):
    """A unit whose profile quantities are the plant's signals at read time.

    The registers between quantities exist and read zero, as on most
    meters, so that coalesced reads across them succeed.
    """

    def __init__(self, plant: Plant, clock: Clock, unit: int = 1) -> None:
        super().__init__(unit)
        self.plant = plant
        self.clock = clock
        self.quantities = profiles.load(PROFILE)
        end = max(q.address + 2 for q in self.quantities.values())
        self.set_registers("input", 0, [0] * end)
        self.refresh()

    def refresh(self) -> None:
        """Store the plant's signals at the clock's present time."""
        signals = self.plant.signals(self.clock.now())
        for name, q in self.quantities.items():
            self.set(q.table, q.address, signals[name], q.dtype, layout=q.layout)  # type: ignore[arg-type]

    async def async_getValues(  # noqa: N802  # name fixed by pymodbus
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        if func_code == 4:
            self.refresh()
        return await super().async_getValues(device_id, func_code, address, count)


def serve_meter(plant: Plant, clock: Clock, unit: int = 1) -> TcpSimServer:
    """Start a meter fed by ``plant`` on a free loopback port; the caller closes it."""
    return TcpSimServer([PlantMeter(plant, clock, unit)])


def open_simulated(device: DeviceConfig, ctx: DriverContext) -> ModbusDevice:
    """Serve the simulated meter ``device`` names and open the device on it.

    The server closes with the device.
    """
    plant = shared_plant(ctx)
    server = serve_meter(plant, ctx.clock, device.options.unit)
    try:
        options = replace(
            device.options,
            host=server.host,
            port=server.port,
            target=f"{server.host}:{server.port}",
        )
        opened = open_device(replace(device, options=options), ctx)
    except BaseException:
        server.close()
        raise
    opened.closers.append(server.close)
    return opened
