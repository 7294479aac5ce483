"""Entry point of the ``edgetwin`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from agent import __version__
from agent.cli import (
    cmd_actuate,
    cmd_bench,
    cmd_check,
    cmd_explain,
    cmd_export,
    cmd_init,
    cmd_listen,
    cmd_read,
    cmd_replay,
    cmd_run,
    cmd_safe_state,
    cmd_scan,
    cmd_status,
    cmd_train,
)
from agent.errors import EdgetwinError

# In the order `edgetwin --help` lists them: running, on site, data, upstream.
COMMANDS: tuple[ModuleType, ...] = (
    cmd_run,
    cmd_check,
    cmd_init,
    cmd_status,
    cmd_read,
    cmd_scan,
    cmd_actuate,
    cmd_explain,
    cmd_safe_state,
    cmd_export,
    cmd_replay,
    cmd_train,
    cmd_listen,
    cmd_bench,
)

EPILOG = """\
examples:
  edgetwin run --speed 600 --duration 1h    simulated plant, one hour in six seconds
  edgetwin check /etc/edgetwin/edgetwin.toml
  edgetwin status
  edgetwin export --since 1h -o readings.csv
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgetwin",
        description="Edge gateway agent: polls sensors, keeps a digital twin of the "
        "asset, buffers in SQLite and syncs upstream over MQTT.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"edgetwin {__version__}"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="how much to log to stderr (default: info)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks on errors"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in COMMANDS:
        cmd.register(sub)
    return parser


def configure_logging(level: str) -> None:
    # The journal adds its own timestamps; keep lines short and greppable.
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        return int(args.func(args) or 0)
    except EdgetwinError as exc:
        if args.debug:
            raise
        for line in str(exc).splitlines() or [type(exc).__name__]:
            sys.stderr.write(f"edgetwin: {line}\n")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
