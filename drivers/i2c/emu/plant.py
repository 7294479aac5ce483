"""Feed emulated chips from the simulated plant, and the demo's emulated bus.

Each chip quantity reads one plant signal (``drivers.sim.plant.SIGNALS``),
by default:

=========  ================  =========================================
chip       quantity          plant signal
=========  ================  =========================================
bme280     temperature_c     cabinet_temp_c
bme280     humidity_pct      cabinet_humidity_pct
bme280     pressure_pa       pressure_hpa (× 100)
sht3x      temperature_c     ambient_temp_c
sht3x      humidity_pct      ambient_humidity_pct
ina219     current_a         fan_current_a
ina219     bus_voltage_v     fan_bus_v
ads1115    a0, a1, a2, a3    fan_duty, door_open, heater_on, 0 V (volts)
=========  ================  =========================================

A device's ``signals`` table may point a quantity at another signal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from agent.clock import Clock
from drivers.i2c.emu.ads1115 import EmulatedAds1115
from drivers.i2c.emu.bme280 import EmulatedBme280
from drivers.i2c.emu.bus import EmulatedBus
from drivers.i2c.emu.chip import EmulatedChip
from drivers.i2c.emu.ina219 import EmulatedIna219
from drivers.i2c.emu.sht3x import EmulatedSht3x
from drivers.sim.plant import Plant

DEFAULT_SIGNALS: dict[str, dict[str, str]] = {
    "bme280": {
        "temperature_c": "cabinet_temp_c",
        "humidity_pct": "cabinet_humidity_pct",
        "pressure_pa": "pressure_hpa",
    },
    "sht3x": {
        "temperature_c": "ambient_temp_c",
        "humidity_pct": "ambient_humidity_pct",
    },
    "ina219": {"current_a": "fan_current_a", "bus_voltage_v": "fan_bus_v"},
    "ads1115": {"a0": "fan_duty", "a1": "door_open", "a2": "heater_on", "a3": ""},
}
# The plant gives pressure in hPa; the BME280 emulation wants Pa.
SCALE = {"pressure_pa": 100.0}

Source = Callable[[], Mapping[str, float]]


def plant_source(
    plant: Plant, clock: Clock, kind: str, overrides: Mapping[str, str] | None = None
) -> Source:
    """Return a source for a ``kind`` chip that reads ``plant`` at the clock's time."""
    mapping = {**DEFAULT_SIGNALS[kind], **(overrides or {})}

    def source() -> dict[str, float]:
        signals = plant.signals(clock.now())
        return {
            q: signals[s] * SCALE.get(q, 1.0) if s else 0.0 for q, s in mapping.items()
        }

    return source


def make_chip(
    kind: str, source: Source, clock: Clock, shunt_ohm: float = 0.1
) -> EmulatedChip:
    """Return an emulated chip of ``kind`` fed by ``source``."""
    if kind == "bme280":
        return EmulatedBme280(source, clock=clock)
    if kind == "sht3x":
        return EmulatedSht3x(source, clock=clock)
    if kind == "ads1115":
        return EmulatedAds1115(source, clock=clock)
    if kind == "ina219":
        return EmulatedIna219(source, clock=clock, shunt_ohm=shunt_ohm)
    raise ValueError(f"no emulation for chip kind {kind!r}")


# The demo board: one of each chip at its default address.
DEMO_CHIPS = {0x76: "bme280", 0x44: "sht3x", 0x48: "ads1115", 0x40: "ina219"}


def demo_bus(plant: Plant, clock: Clock) -> EmulatedBus:
    """Return an emulated bus with the demo board's chips, fresh from reset."""
    bus = EmulatedBus()
    for address, kind in DEMO_CHIPS.items():
        bus.attach(address, make_chip(kind, plant_source(plant, clock, kind), clock))
    return bus
