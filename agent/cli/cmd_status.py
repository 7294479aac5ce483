"""``edgetwin status``: what the agent holds now."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from agent.cli.cmd_export import open_store
from agent.cli.common import add_config_arg, out
from agent.reading import Reading

HELP = """\
Show what the store holds now: each point's last value and quality, the
database size, the upstream backlog and the latest events. Safe to run while
the agent is running.

example:
  edgetwin status
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status",
        help="show last values, store size and backlog",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arg(p)
    p.add_argument(
        "--db", metavar="FILE", help="database file (default: from the configuration)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=status)


def _t(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def status(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        conn = store.conn
        last: dict[str, Reading] = {}
        names = store.point_names()
        # The newest batches hold every point that is still polled.
        rows = conn.execute(
            "SELECT t0, t1 FROM readings ORDER BY t1 DESC LIMIT 1"
        ).fetchone()
        if rows:
            window_start = rows[1] - 3600.0
            for r in store.iter_readings(window_start, None):
                last[r.point] = r
        info = {
            "database": str(store.path),
            "file_bytes": store.file_bytes(),
            "readings": store.count_readings(),
            "oldest": conn.execute("SELECT MIN(t0) FROM readings").fetchone()[0],
            "newest": rows[1] if rows else None,
            "outbox_backlog": conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0],
            "boot_id": store.meta("boot_id"),
            "points": {
                n: {"ts": r.ts, "value": r.value, "quality": r.quality.label}
                for n, r in sorted(last.items())
            },
            "events": [
                {"ts": ts, "kind": k, "message": m}
                for ts, k, m in conn.execute(
                    "SELECT ts, kind, message FROM events ORDER BY id DESC LIMIT 5"
                )
            ],
        }
    if args.json:
        out(json.dumps(info, indent=2))
        return 0
    out(
        f"database  {info['database']} ({info['file_bytes'] / 1e6:.1f} MB, {info['readings']} readings)"
    )
    out(f"span      {_t(info['oldest'])} to {_t(info['newest'])} UTC")
    out(f"backlog   {info['outbox_backlog']} messages waiting to go upstream")
    out(f"boot id   {info['boot_id'] or '-'}")
    out()
    out(f"{'point':<26}{'value':>14}  {'quality':<14}time (UTC)")
    for name in sorted(set(names.values())):
        got = last.get(name)
        if got is None:
            out(f"{name:<26}{'-':>14}  {'no data':<14}-")
            continue
        v = "-" if got.value is None else f"{got.value:.4g}"
        out(f"{name:<26}{v:>14}  {got.quality.label:<14}{_t(got.ts)}")
    if info["events"]:
        out()
        out("latest events:")
        for e in info["events"]:
            out(f"  {_t(e['ts'])}  {e['kind']:<14} {e['message']}")
    return 0
