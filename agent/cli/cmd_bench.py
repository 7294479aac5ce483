"""``edgetwin bench``: measure the agent on the reference workload."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from agent import bench
from agent.cli import bench_control, bench_modbus, bench_skab, bench_twin
from agent.cli.common import out, positive_float, positive_int, progress

HELP = """\
Measure the whole pipeline on the reference workload (50 points at 1 Hz) on
a simulated clock: CPU time per cycle and as a share of one core, resident
memory, commits per hour and bytes written to the database per hour.

examples:
  edgetwin bench
  edgetwin bench pipeline --hours 4 --rate 10 --json bench.json

With --full the reference workload runs for real: a Modbus TCP simulator on
loopback (25 uint16 + 25 float32 registers), a linear twin, an int8 model
trained first from a short recorded run, the store and the uplink to a
mosquitto started on a free loopback port; on the real clock for --minutes
(honest CPU share and poll-to-broker latency) or, with --accelerated, on a
simulated clock for --hours.

  edgetwin bench pipeline --full --minutes 5 --json full.json
  edgetwin bench pipeline --full --rate 10 --minutes 2
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure CPU, memory and writes on the reference workload",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(
        func=run_pipeline, hours=1.0, points=50, rate=1.0, json=None, full=False
    )
    which = p.add_subparsers(dest="bench", metavar="WHAT")
    pp = which.add_parser("pipeline", help="the whole pipeline (the default)")
    pp.add_argument(
        "--hours", type=positive_float, default=1.0, help="simulated hours (default 1)"
    )
    pp.add_argument(
        "--points", type=positive_int, default=50, help="number of points (default 50)"
    )
    pp.add_argument(
        "--rate",
        type=positive_float,
        default=1.0,
        help="polls per second per point (default 1)",
    )
    pp.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    pp.add_argument(
        "--full",
        action="store_true",
        help="Modbus TCP, twin, model, store and uplink (see above)",
    )
    pp.add_argument(
        "--minutes",
        type=positive_float,
        default=5.0,
        help="--full: real minutes (default 5)",
    )
    pp.add_argument(
        "--accelerated",
        action="store_true",
        help="--full: simulated clock for --hours instead of real time",
    )
    pp.add_argument(
        "--window-s",
        type=positive_float,
        default=10.0,
        help="--full: summary window (10)",
    )
    pp.add_argument(
        "--bundle",
        metavar="DIR",
        help="--full: a bundle over f0-f3, u0, u1 instead of training one",
    )
    pp.set_defaults(func=run_pipeline)
    bench_skab.register(which)
    bench_control.register(which)
    pu = which.add_parser(
        "uplink",
        help="QoS 1 throughput, a day's backlog drain, outbox bytes per hour",
        description="Against a mosquitto started on a free loopback port.\n\n"
        "example:\n  edgetwin bench uplink --hours 24",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pu.add_argument(
        "--hours", type=positive_float, default=24.0, help="hours buffered (24)"
    )
    pu.add_argument(
        "--messages", type=positive_int, default=5000, help="QoS 1 publishes"
    )
    pu.set_defaults(func=run_uplink)
    bench_twin.register(which)
    bench_modbus.register(which)


def table(title: str, rows: list[tuple[str, str]]) -> None:
    out(title)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        out(f"  {k:<{width}}  {v}")


def run_pipeline(args: argparse.Namespace) -> int:
    if args.full:
        return run_full(args)
    result = bench.pipeline(
        hours=args.hours,
        points=args.points,
        rate_hz=args.rate,
        progress=progress,
    )
    table("pipeline benchmark", result.rows())
    if args.json:
        with open(args.json, "w") as f:
            json.dump(asdict(result), f, indent=2)
    return 0


def run_full(args: argparse.Namespace) -> int:
    # NOTE: imported here (PLC0415) so that other benchmarks need no MQTT client.
    from pathlib import Path  # noqa: PLC0415

    from agent.bench_full import full  # noqa: PLC0415

    accelerated = bool(args.accelerated)
    result = full(
        args.hours * 3600.0 if accelerated else args.minutes * 60.0,
        args.rate,
        accelerated=accelerated,
        window_s=args.window_s,
        bundle=Path(args.bundle) if args.bundle else None,
        progress=progress,
    )
    table("full pipeline benchmark", result.rows())
    if args.json:
        with open(args.json, "w") as f:
            json.dump(asdict(result), f, indent=2)
    return 0


def run_uplink(args: argparse.Namespace) -> int:
    # NOTE: imported here (PLC0415) so that other benchmarks need no MQTT client.
    from agent.uplink.bench import uplink  # noqa: PLC0415

    result = uplink(hours_buffered=args.hours, publish_msgs=args.messages)
    table("uplink benchmark", result.rows())
    return 0
