"""``edgetwin explain``: why an actuator holds its value, in plain sentences."""

from __future__ import annotations

import argparse
import json

from agent.cli.cmd_export import open_store
from agent.cli.common import add_config_arg, out, positive_int, resolve_config
from agent.control.explain import explain
from agent.errors import CommandError, EdgetwinError
from agent.store.store import Actuation

HELP = """\
Print why an actuator was last written: by which policy, override or
fail-safe, on which readings or forecast, and what the safety envelope
changed. Reads the store; safe while the agent runs.

examples:
  edgetwin explain fan
  edgetwin explain heater --last 5
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain",
        help="say why an actuator holds its value",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arg(p)
    p.add_argument(
        "--db", metavar="FILE", help="database file (default: from the configuration)"
    )
    p.add_argument("actuator", metavar="ACTUATOR", help="the actuator's name")
    p.add_argument(
        "--last",
        type=positive_int,
        default=1,
        metavar="N",
        help="explain the last N writes (default 1)",
    )
    p.set_defaults(func=explain_cmd)


def explain_cmd(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    cfg = next((a for a in config.actuators if a.name == args.actuator), None)
    if cfg is None:
        known = ", ".join(sorted(a.name for a in config.actuators)) or "none"
        raise CommandError(
            f"explain: actuator {args.actuator!r} is not configured (known: {known})"
        )
    with open_store(args) as store:
        rows = store.conn.execute(
            "SELECT ts, actuator, value, requested, source, reason, data FROM actuations"
            " WHERE actuator = ? ORDER BY id DESC LIMIT ?",
            (args.actuator, args.last),
        ).fetchall()
    if not rows:
        raise EdgetwinError(f"explain: no writes of {args.actuator!r} are recorded")
    units = {p.name: p.unit for p in config.points}
    for ts, name, value, requested, source, reason, data in reversed(rows):
        act = Actuation(
            ts, name, value, requested, source, reason, json.loads(data or "{}")
        )
        point = next(iter(act.data.get("inputs") or {}), "")
        if not point and isinstance(act.data.get("forecast"), dict):
            point = act.data["forecast"].get("point", "")
        out(explain(act, cfg, units.get(point, "")))
    return 0
