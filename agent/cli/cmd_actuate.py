"""``edgetwin actuate``: a technician's manual override, picked up by the running agent."""

from __future__ import annotations

import argparse
import getpass
import time
from pathlib import Path

from agent.cli.common import add_config_arg, duration, out, resolve_config, state_dir
from agent.control import overrides as ov
from agent.control.controller import check_binary
from agent.errors import CommandError

HELP = """\
Hold an actuator at a value for a while, over whatever its policy wants.
The request goes into the overrides directory under the state directory;
the running agent applies it within one cycle, through the safety envelope
(an override never passes the envelope), records who asked, and lets it
expire by itself. VALUE 'auto' releases an override early.

examples:
  edgetwin actuate fan 1 --for 10m --reason "filter change"
  edgetwin actuate heater 0 --for 2h --who alice
  edgetwin actuate fan auto
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "actuate",
        help="override an actuator for a while (manual control)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arg(p)
    p.add_argument(
        "name", metavar="NAME", help="the actuator, as named in the configuration"
    )
    p.add_argument(
        "value", metavar="VALUE", help="the value to hold, or 'auto' to release"
    )
    p.add_argument(
        "--for",
        dest="for_s",
        type=duration,
        default=600.0,
        metavar="TIME",
        help="how long the override lasts (default 10m)",
    )
    p.add_argument("--who", default=None, help="who asks (default: the login name)")
    p.add_argument("--reason", default="", help="a note kept with the override")
    p.set_defaults(func=actuate)


def _value(text: str, name: str) -> float | None:
    if text == "auto":
        return None
    try:
        return float(text)
    except ValueError:
        raise CommandError(
            f"actuate: {name}: {text!r} is not a number or 'auto'"
        ) from None


def actuate(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    try:
        who = args.who or getpass.getuser()
    except OSError:
        who = "technician"
    req = ov.OverrideRequest(
        actuator=args.name,
        value=_value(args.value, args.name),
        duration_s=args.for_s,
        who=who,
        reason=args.reason,
        id=ov.new_id(),
        requested_at=time.time(),
    )
    limits = {a.name: (a.min, a.max) for a in config.actuators}
    ov.check_request(req, limits, config.control.max_override_s)
    check_binary(req.actuator, req.value, config.actuators)
    directory = Path(state_dir(args, config)) / config.control.overrides_dir
    path = ov.submit(directory, req)
    what = "release" if req.value is None else f"{req.value:g} for {req.duration_s:g} s"
    out(f"{req.actuator}: override {req.id} ({what}) by {who} queued in {path.parent}")
    if not config.control.enabled:
        out(
            "note: control is disabled in this configuration; the agent will not apply it"
        )
    return 0
