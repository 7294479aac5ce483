"""``edgetwin bench control``: the envelope's cost and how the fan policies hold the band."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from agent.cli.common import out, positive_float
from agent.control import bench


def register(which: argparse._SubParsersAction) -> None:
    p = which.add_parser(
        "control",
        help="envelope cost per decision, sense-to-actuate latency, a week per policy",
        description="Measure the safety envelope's cost per decision, the latency "
        "from the start of a cycle to its actuator write, and run the demo plant "
        "for a simulated week with each fan policy (hysteresis, PID, predictive).\n\n"
        "example:\n  edgetwin bench control --days 7",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--days", type=positive_float, default=7.0, help="simulated days (default 7)"
    )
    p.add_argument(
        "--period",
        type=positive_float,
        default=30.0,
        help="poll period in s (default 30)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    r = bench.control(days=args.days, period_s=args.period)
    out("control benchmark")
    out(
        f"  envelope          {r.envelope_us_per_decision:.2f} µs per decision ({r.decisions})"
    )
    out(
        f"  sense to actuate  p50 {r.latency_p50_ms:.3f} ms, p99 {r.latency_p99_ms:.3f} ms "
        f"({r.latency_samples} writes)"
    )
    lo, hi = r.weeks[0].low_c, r.weeks[0].high_c
    out(
        f"  band {lo:g} to {hi:g} °C over {args.days:g} days, poll every {args.period:g} s:"
    )
    for w in r.weeks:
        out(f"    {w.row()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(asdict(r), f, indent=2)
    return 0
