"""``edgetwin safe-state``: put every configured actuator at its fail-safe value."""

from __future__ import annotations

import argparse
import logging
import sys

from agent.cli.common import add_config_arg, out, state_dir
from agent.clock import RealClock
from agent.config import DEFAULT_PATH, Config, default_config
from agent.config.load import load_config_lenient
from agent.control.failsafe import apply_safe_state

log = logging.getLogger(__name__)

HELP = """\
Open every device in the configuration and write each actuator's
safe_value, through the safety envelope, recording the writes in the store.
The service manager runs it after the agent exits for any reason (see
systemd/edgetwin.service, ExecStopPost). Exit code 2 names the actuators
that could not be set. A configuration with problems does not stop it:
each problem is printed, every actuator whose own settings (and its
device's) are valid is still set, and the exit code is 2.

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


def lenient_config(args: argparse.Namespace) -> tuple[Config | None, list[str]]:
    """The configuration as far as it is valid, and its problems."""
    path = args.config or (DEFAULT_PATH if DEFAULT_PATH.exists() else None)
    if path is None:
        return default_config(), []
    return load_config_lenient(path)


def safe_state(args: argparse.Namespace) -> int:
    config, problems = lenient_config(args)
    for line in problems:
        sys.stderr.write(f"edgetwin: {line}\n")
    if config is None:
        return 2
    results = apply_safe_state(config, RealClock(), state_dir(args, config))
    for r in results:
        out(r.line())
    return 2 if problems else 0
