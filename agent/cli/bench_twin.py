"""``edgetwin bench twin``: the thermal twin's CPU per cycle and one what-if."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from agent.cli.common import out, positive_int
from agent.twin import bench


def register(which: argparse._SubParsersAction) -> None:
    p = which.add_parser(
        "twin",
        help="thermal twin cost per cycle and per what-if forecast",
        description="Time the thermal twin alone on the simulated plant's signals "
        "at 1 Hz (filters, parameter fit, hidden quantities) and one two-hour "
        "what-if forecast.\n\nexample:\n  edgetwin bench twin --cycles 20000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--cycles",
        type=positive_int,
        default=20_000,
        help="cycles to time (default 20000)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = bench.thermal(cycles=max(1, args.cycles))
    out("twin benchmark")
    width = max(len(k) for k, _ in result.rows())
    for k, v in result.rows():
        out(f"  {k:<{width}}  {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(asdict(result), f, indent=2)
    return 0
