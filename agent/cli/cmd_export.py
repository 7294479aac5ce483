"""``edgetwin export``: readings from the store to CSV."""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from agent.cli.common import add_config_arg, duration, out, resolve_config, state_dir
from agent.errors import CommandError, EdgetwinError
from agent.runtime import store_path
from agent.store.store import Store

HELP = """\
Write stored readings as CSV, oldest first, under the header
time,ts,point,value,quality: time is ISO 8601 UTC with milliseconds, ts
the same instant in epoch seconds, value empty when the device gave
nothing usable, quality its label (good, ...). --from and --to take ISO 8601
(2026-12-04T10:00, UTC unless it says otherwise) or epoch seconds; --since
takes an age instead of --from.

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
        "--since",
        type=duration,
        metavar="AGE",
        help="only the last AGE (e.g. 1h); not with --from",
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
        epoch_s = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(epoch_s):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a time (examples: 2026-12-04T10:00, 1764842400)"
            )
        return epoch_s
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


def time_range(args: argparse.Namespace) -> tuple[float | None, float | None]:
    """``[start, end)`` from --from/--since and --to; CommandError when it is empty."""
    if args.since is not None and args.start is not None:
        raise CommandError("export: give --since or --from, not both")
    start = args.start
    if args.since is not None:
        start = time.time() - args.since
    if start is not None and args.end is not None and start >= args.end:
        raise CommandError(
            f"export: the start {iso(start)} is not before --to {iso(args.end)};"
            " nothing to export (swap them?)"
        )
    return start, args.end


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def open_output(name: str) -> TextIO:
    """stdout for '-', else the file, or a one-line error naming it."""
    if name == "-":
        return sys.stdout
    try:
        return open(name, "w", newline="")
    except IsADirectoryError:
        raise CommandError(
            f"export: -o {name}: is a directory (give a file name, e.g. {Path(name) / 'readings.csv'})"
        ) from None
    except FileNotFoundError:
        raise CommandError(
            f"export: -o {name}: directory {Path(name).parent} does not exist (create it first)"
        ) from None
    except OSError as exc:
        raise CommandError(f"export: -o {name}: cannot write: {exc.strerror}") from None


def export(args: argparse.Namespace) -> int:
    start, end = time_range(args)
    points = [p.strip() for p in args.points.split(",")] if args.points else None
    with open_store(args) as store:
        known = set(store.point_names().values())
        unknown = [p for p in points or [] if p not in known]
        if unknown:
            raise EdgetwinError(
                f"--points: {', '.join(unknown)} not in the store (known: {', '.join(sorted(known))})"
            )
        f = open_output(args.output)
        try:
            w = csv.writer(f)
            w.writerow(["time", "ts", "point", "value", "quality"])
            n = 0
            for r in store.iter_readings(start, end, points):
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
