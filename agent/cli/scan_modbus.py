"""``edgetwin scan modbus``: list the units that answer on a Modbus link."""

from __future__ import annotations

import argparse

from agent.cli.common import out
from agent.clock import RealClock
from agent.errors import CommandError
from drivers.modbus.link import Link, RtuLink, SerialSettings, TcpLink
from drivers.modbus.scan import parse_units, scan

HELP = """\
Ask each unit for holding register 0 (function 3) and list those that
answer. An exception reply counts as answering: the unit is there, it just
has no such register. Give either a Modbus TCP gateway (--host) or a serial
line (--serial). A silent unit costs --timeout, so narrow --units on slow
lines (247 units at 0.2 s take up to 50 s).

examples:
  edgetwin scan modbus --host 192.168.1.20 --units 1-10
  edgetwin scan modbus --serial /dev/ttyUSB0 --baud 19200 --units 1-247
"""


def register_modbus(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "modbus",
        help="list the units that answer on Modbus TCP or RTU",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--host", help="Modbus TCP device or gateway")
    where.add_argument(
        "--serial", metavar="PORT", help="serial port, e.g. /dev/ttyUSB0"
    )
    p.add_argument("--port", type=int, default=502, help="TCP port (default: 502)")
    p.add_argument("--baud", type=int, default=9600, help="baud rate (default: 9600)")
    p.add_argument(
        "--parity", choices=("N", "E", "O"), default="N", help="parity (default: N)"
    )
    p.add_argument(
        "--units", default="1-247", help="units to probe, e.g. 1-247 or 1,3,10-12"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=0.2,
        metavar="S",
        help="seconds to wait for each unit (default: 0.2)",
    )
    p.set_defaults(func=scan_modbus)


def scan_modbus(args: argparse.Namespace) -> int:
    units = parse_units(args.units)
    if not 0 < args.timeout <= 60:
        raise CommandError(f"--timeout: {args.timeout:g} s is not allowed (0 to 60)")
    clock = RealClock()
    link: Link
    if args.host:
        if not 1 <= args.port <= 65535:
            raise CommandError(f"--port: {args.port} is not allowed (1 to 65535)")
        link = TcpLink(args.host, args.port, clock=clock)
        where = f"{args.host}:{args.port}"
    else:
        settings = SerialSettings(baud=args.baud, parity=args.parity)
        link = RtuLink(args.serial, settings, clock=clock)
        where = f"{args.serial} at {args.baud} baud"
    try:
        found = scan(link, units, args.timeout)
    finally:
        link.close()
    out(f"{where}: {len(found)} unit{'s' if len(found) != 1 else ''} answered")
    for a in found:
        out(f"  unit {a.unit:3d}  {a.detail}")
    return 0
