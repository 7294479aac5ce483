"""``edgetwin scan``: find devices on a bus; ``scan i2c`` lists the chips on an I2C bus.

Each bus type is one subcommand, registered by a function in
``SUBCOMMANDS``; ``scan modbus`` belongs there beside ``scan i2c``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from agent.cli.common import out
from agent.cli.scan_modbus import register_modbus
from agent.clock import RealClock
from drivers.i2c.bus import I2CBus, open_bus
from drivers.i2c.emu.plant import demo_bus
from drivers.i2c.scan import Found, scan
from drivers.sim.plant import Plant

HELP = """\
Find the devices that answer on a bus.

examples:
  edgetwin scan i2c --bus 1
  edgetwin scan i2c --emulated
  edgetwin scan modbus --host 192.168.1.20 --units 1-10
"""

I2C_HELP = """\
Probe every address 0x03..0x77 on an I2C bus and name the known chips by
their identity registers: BME280 (chip id 0x60) or BMP280 (0x58), SHT3x
(status word with a valid CRC), INA219 (reset config 0x399F), ADS1115
(reset config 0x8583). An INA219 or ADS1115 that has been configured since
power-up is listed without a name.

examples:
  edgetwin scan i2c --bus 1
  edgetwin scan i2c --emulated     the demo board's emulated chips
"""


def register_i2c(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "i2c",
        help="list the chips on an I2C bus",
        description=I2C_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--bus", type=int, default=1, metavar="N", help="scan /dev/i2c-N (default: 1)"
    )
    p.add_argument(
        "--emulated",
        action="store_true",
        help="scan the demo's emulated bus (BME280, SHT3x, ADS1115, INA219) "
        "instead of hardware",
    )
    p.set_defaults(func=scan_i2c)


# One registration function per bus type; ``scan modbus`` is added here.
SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    register_i2c,
    register_modbus,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help="find the devices on a bus",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    buses = p.add_subparsers(dest="bus_type", metavar="BUS", required=True)
    for add in SUBCOMMANDS:
        add(buses)


def format_found(found: list[Found]) -> list[str]:
    """Return one line per address that answered."""
    lines = []
    for f in found:
        if f.busy:
            what = "in use by a kernel driver"
        elif f.chip:
            what = f"{f.chip} ({f.detail})"
        else:
            what = "unknown chip"
        lines.append(f"  0x{f.address:02x}  {what}")
    return lines


def scan_i2c(args: argparse.Namespace) -> int:
    bus: I2CBus
    if args.emulated:
        clock = RealClock()
        bus = demo_bus(Plant(), clock)
        where = "emulated bus"
    else:
        bus = open_bus(args.bus)
        where = f"/dev/i2c-{args.bus}"
    try:
        found = scan(bus)
    finally:
        bus.close()
    out(f"{where}: {len(found)} device{'s' if len(found) != 1 else ''}")
    for line in format_found(found):
        out(line)
    return 0
