"""Entry point of the ``edgetwin`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

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

--debug and --log-level go before or after the command.

exit status: 0 done, 2 a mistake in the command or a problem with the files or
devices (one line on stderr says which), 130 interrupted, 141 the reader of the
output went away (e.g. piped into head), as for any program killed by SIGPIPE.
"""
LOG_LEVELS = ("debug", "info", "warning", "error")
# Exit status of a program whose output pipe closed: 128 + SIGPIPE.
EXIT_BROKEN_PIPE = 141


class Parser(argparse.ArgumentParser):
    """A parser whose usage errors are one line, pointing at --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="edgetwin",
        description="Edge gateway agent: polls sensors, keeps a digital twin of the "
        "asset, buffers in SQLite and syncs upstream over MQTT.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"edgetwin {__version__}"
    )
    add_global_args(parser, argparse.SUPPRESS)
    parser.set_defaults(log_level="info", debug=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in COMMANDS:
        cmd.register(sub)
    for command in sub.choices.values():
        add_global_args_everywhere(command)
    return parser


def add_global_args(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--log-level",
        default=default,
        choices=LOG_LEVELS,
        help="how much to log to stderr (default: info)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="show tracebacks on errors",
    )


def add_global_args_everywhere(parser: argparse.ArgumentParser) -> None:
    """Accept --debug and --log-level after a command (and its subcommands) too.

    SUPPRESS leaves the value given before the command alone when the option
    is not repeated after it.
    """
    add_global_args(parser, argparse.SUPPRESS)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                add_global_args_everywhere(child)


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
        status = int(args.func(args) or 0)
        # Flush here, not at exit, so a closed pipe is caught below.
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # The reader went away (``edgetwin export | head``): stop quietly.
        # Later writes, and the flush at exit, go to /dev/null instead.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except EdgetwinError as exc:
        if args.debug:
            raise
        for line in str(exc).splitlines() or [type(exc).__name__]:
            sys.stderr.write(f"edgetwin: {line}\n")
        return 2
    except OSError as exc:
        # A file or device the command needed: an environment problem.
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"edgetwin: {where}{exc.strerror or exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
