"""``edgetwin scan i2c``: every emulated chip found and named by its identity."""

from __future__ import annotations

from collections.abc import Callable
from subprocess import CompletedProcess

from agent.clock import SimClock
from drivers.i2c.emu.bme280 import EmulatedBme280
from drivers.i2c.emu.bus import EmulatedBus
from drivers.i2c.emu.chip import EmulatedChip
from drivers.i2c.emu.ina219 import EmulatedIna219
from drivers.i2c.emu.plant import DEMO_CHIPS, demo_bus
from drivers.i2c.emu.sht3x import EmulatedSht3x
from drivers.i2c.ina219 import Ina219
from drivers.i2c.scan import Found, scan
from drivers.sim.plant import Plant

Cli = Callable[..., CompletedProcess[str]]


class Eeprom(EmulatedChip):
    """A chip that only answers reads, as an EEPROM at 0x50 does."""

    chip = "EEPROM"

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def on_write(self, data: bytes) -> None:
        self.writes.append(data)

    def on_read(self, length: int) -> bytes:
        return b"\xff" * length


def test_scan_finds_every_demo_chip() -> None:
    clock = SimClock()
    found = scan(demo_bus(Plant(), clock))
    assert [(f.address, f.chip) for f in found] == [
        (0x40, "INA219"),
        (0x44, "SHT3x"),
        (0x48, "ADS1115"),
        (0x76, "BME280"),
    ]
    assert sorted(DEMO_CHIPS) == [f.address for f in found]


def test_scan_tells_chips_apart_in_shared_ranges() -> None:
    clock = SimClock()
    bus = EmulatedBus()
    bus.attach(
        0x44, EmulatedIna219(lambda: {}, clock=clock)
    )  # INA219 at SHT3x's address
    bus.attach(0x45, EmulatedSht3x(lambda: {}, clock=clock))
    bus.attach(0x77, EmulatedBme280(lambda: {}, clock=clock, chip_id=0x58))
    eeprom = Eeprom()
    bus.attach(0x50, eeprom)
    assert scan(bus) == [
        Found(0x44, "INA219", "config 0x399F"),
        Found(0x45, "SHT3x", "status 0x0000 with a valid CRC"),
        Found(0x50, "", ""),
        Found(0x77, "BMP280", "chip id 0x58"),
    ]
    assert eeprom.writes == []  # probed with a read, never a quick write


def test_a_configured_ina219_is_listed_without_a_name() -> None:
    clock = SimClock()
    bus = EmulatedBus({0x41: EmulatedIna219(lambda: {}, clock=clock)})
    Ina219(bus, 0x41, clock=clock, shunt_ohm=0.1, max_current_a=0.35).setup()
    assert scan(bus) == [Found(0x41)]


def test_cli_scans_the_emulated_bus(cli: Cli) -> None:
    result = cli("scan", "i2c", "--emulated")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "emulated bus: 4 devices",
        "  0x40  INA219 (config 0x399F)",
        "  0x44  SHT3x (status 0x0000 with a valid CRC)",
        "  0x48  ADS1115 (config 0x8583)",
        "  0x76  BME280 (chip id 0x60)",
    ]


def test_cli_without_the_bus_is_one_line_and_exit_2(cli: Cli) -> None:
    result = cli("scan", "i2c", "--bus", "97")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("edgetwin: /dev/i2c-97 does not exist: enable I2C")
    assert len(result.stderr.splitlines()) == 1


def test_cli_help_has_examples(cli: Cli) -> None:
    result = cli("scan", "i2c", "--help")
    assert result.returncode == 0
    assert "edgetwin scan i2c --emulated" in result.stdout
