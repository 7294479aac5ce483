"""``edgetwin export``: readings from the store to CSV."""

from __future__ import annotations

import argparse
import csv
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from agent.cli.common import add_config_arg, duration, out, resolve_config, state_dir
from agent.errors import EdgetwinError
from agent.runtime import store_path
from agent.store.store import Store

HELP = """\
Write stored readings as CSV (ts as ISO 8601 UTC, epoch seconds, point,
value, quality), oldest first. Times are ISO 8601 (2026-12-04T10:00) or
epoch seconds.

examples:
  edgetwin export --since 1h -o last-hour.csv
  edgetwin export --from 2026-12-04T00:00 --to 2026-12-05T00:00 --points cabinet_temp_c,power_w
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export readings to CSV",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arg(p)
    p.add_argument(
        "--db", metavar="FILE", help="database file (default: from the configuration)"
    )
    p.add_argument(
        "--from", dest="start", type=when, metavar="TIME", help="first time to include"
    )
    p.add_argument(
        "--to", dest="end", type=when, metavar="TIME", help="first time to leave out"
    )
    p.add_argument(
        "--since", type=duration, metavar="AGE", help="only the last AGE (e.g. 1h)"
    )
    p.add_argument(
        "--points", metavar="A,B", help="comma-separated point names (default: all)"
    )
    p.add_argument(
        "-o", "--output", metavar="FILE", default="-", help="CSV file (default: stdout)"
    )
    p.set_defaults(func=export)


def when(text: str) -> float:
    """Parse an ISO 8601 time (UTC unless it says otherwise) or epoch seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time (examples: 2026-12-04T10:00, 1764842400)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def open_store(args: argparse.Namespace) -> Store:
    if args.db:
        path = Path(args.db)
    else:
        config = resolve_config(args)
        path = store_path(config, state_dir(args, config))
    if not path.exists():
        raise EdgetwinError(
            f"{path}: no database here (is the agent running? see --db)"
        )
    return Store(path)


def export(args: argparse.Namespace) -> int:
    start = args.start
    if args.since is not None:
        start = time.time() - args.since
    points = [p.strip() for p in args.points.split(",")] if args.points else None
    with open_store(args) as store:
        known = set(store.point_names().values())
        unknown = [p for p in points or [] if p not in known]
        if unknown:
            raise EdgetwinError(
                f"--points: {', '.join(unknown)} not in the store (known: {', '.join(sorted(known))})"
            )
        f = sys.stdout if args.output == "-" else open(args.output, "w", newline="")  # noqa: SIM115
        try:
            w = csv.writer(f)
            w.writerow(["time", "ts", "point", "value", "quality"])
            n = 0
            for r in store.iter_readings(start, args.end, points):
                iso = datetime.fromtimestamp(r.ts, UTC).isoformat(
                    timespec="milliseconds"
                )
                w.writerow(
                    [
                        iso,
                        f"{r.ts:.3f}",
                        r.point,
                        "" if r.value is None else repr(r.value),
                        r.quality.label,
                    ]
                )
                n += 1
        finally:
            if f is not sys.stdout:
                f.close()
    if args.output != "-":
        out(f"wrote {n} readings to {args.output}")
    return 0
