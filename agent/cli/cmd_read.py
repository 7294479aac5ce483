"""``edgetwin read``: read one point once and show its raw registers."""

from __future__ import annotations

import argparse
from typing import Any

from agent.cli.common import add_config_arg, out, resolve_config
from agent.clock import RealClock
from agent.errors import CommandError
from drivers.base import DriverContext
from drivers.registry import kinds

HELP = """\
Read one configured point once through its device and print the value. For
devices that can show them (Modbus), the raw registers are printed in hex
beside the decoded value, before scale and offset.

examples:
  edgetwin read voltage_v --config /etc/edgetwin/edgetwin.toml
  edgetwin read cabinet_temp_c
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "read",
        help="read one point once and show its raw registers",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("point", metavar="POINT", help="the point's name")
    add_config_arg(p)
    p.set_defaults(func=read)


def read(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    names = [p.name for p in config.points]
    if args.point not in names:
        raise CommandError(
            f"point {args.point!r} is not configured (known: {', '.join(names)})"
        )
    point = config.point(args.point)
    dev_cfg = config.device(point.device)
    device = kinds()[dev_cfg.kind].open(dev_cfg, DriverContext(RealClock(), config))
    try:
        raw_reader: Any = getattr(device, "read_raw", None)
        if raw_reader is not None:
            raw = raw_reader(point)
            sample = raw.sample
            registers = raw.hex() or "-"
        else:
            sample = device.read([point])[0]
            registers = ""
    finally:
        device.close()
    unit = f" {point.unit}" if point.unit else ""
    if registers:
        out(f"{point.name}: registers {registers}")
    if sample.value is None:
        out(f"{point.name}: no value ({sample.quality.label}: {sample.reason})")
        return 1
    value = sample.value * point.scale + point.offset
    out(f"{point.name}: raw {sample.value:g}, value {value:g}{unit}")
    return 0
