"""The device kinds the configuration may name, by ``kind``."""

from __future__ import annotations

from drivers.base import DriverKind
from drivers.gpio.kind import GPIO_KIND
from drivers.i2c.kinds import I2C_KINDS
from drivers.modbus.kind import RTU_KIND, TCP_KIND
from drivers.sim.driver import SIM_KIND


def kinds() -> dict[str, DriverKind]:
    """Return every known device kind by name."""
    found: list[DriverKind] = [SIM_KIND, TCP_KIND, RTU_KIND]
    found += I2C_KINDS
    found.append(GPIO_KIND)
    return {k.name: k for k in found}
