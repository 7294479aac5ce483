"""``edgetwin safe-state``: put every configured actuator at its fail-safe value."""

from __future__ import annotations

import argparse
import logging

from agent.cli.common import add_config_arg, out, resolve_config, state_dir
from agent.clock import RealClock
from agent.control.failsafe import apply_safe_state

log = logging.getLogger(__name__)

HELP = """\
Open every device in the configuration and write each actuator's
safe_value, through the safety envelope, recording the writes in the store.
The service manager runs it after the agent exits for any reason (see
systemd/edgetwin.service, ExecStopPost). Exit code 2 names the actuators
that could not be set.

example:
  edgetwin safe-state -c /etc/edgetwin/edgetwin.toml
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "safe-state",
        help="put every actuator at its fail-safe value",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arg(p)
    p.set_defaults(func=safe_state)


def safe_state(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    results = apply_safe_state(config, RealClock(), state_dir(args, config))
    for r in results:
        out(r.line())
    return 0
