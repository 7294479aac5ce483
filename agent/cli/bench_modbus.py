"""``edgetwin bench modbus``: requests per cycle, and our cost per transaction."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from agent.cli.common import out, positive_int, progress
from drivers.modbus import bench

HELP = """\
Read the reference map (25 uint16 + 25 float32 registers) from a Modbus TCP
simulator on loopback and count the requests per cycle it receives; then
time many transactions over an RTU line on a pseudo-terminal pair at each
baud rate and set our wall and CPU time per transaction beside the wire
time the same frames take on a real line: (request + reply bytes) * 11 bits
(8E1) / baud. A pty has no baud-rate delay, so wire time is computed and
the whole wall time measured on the pty counts as overhead.

example:
  edgetwin bench modbus --transactions 500 --baud 9600 --baud 115200
"""


def register(which: argparse._SubParsersAction) -> None:
    p = which.add_parser(
        "modbus",
        help="Modbus requests per cycle and overhead per transaction",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--transactions",
        type=positive_int,
        default=300,
        help="transactions timed per baud rate (default 300)",
    )
    p.add_argument(
        "--baud",
        type=positive_int,
        action="append",
        metavar="N",
        help="baud rate to time; repeat for several (default 9600 and 115200)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    bauds = tuple(args.baud) if args.baud else (9600, 115200)
    r = bench.modbus(
        transactions=max(1, args.transactions),
        bauds=bauds,
        progress=progress,
    )
    out("modbus benchmark")
    rows = r.rows()
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        out(f"  {k:<{width}}  {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(asdict(r), f, indent=2)
    return 0
