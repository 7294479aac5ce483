"""``edgetwin init``: write a commented starting configuration."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.cli.common import out
from agent.config import default_text
from agent.errors import EdgetwinError

HELP = """\
Write a commented starting configuration (the built-in simulated plant) to
FILE, or to standard output with '-'. Edit it for the wiring on site, then
check it with 'edgetwin check FILE'.

example:
  edgetwin init /etc/edgetwin/edgetwin.toml
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "init",
        help="write a starting configuration file",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", nargs="?", default="edgetwin.toml")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(func=init)


def init(args: argparse.Namespace) -> int:
    text = default_text().rstrip("\n") + "\n"  # a text file ends with a newline
    if args.file == "-":
        sys.stdout.write(text)
        return 0
    path = Path(args.file)
    if path.exists() and not args.force:
        raise EdgetwinError(f"{path}: already exists (use --force to overwrite)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise EdgetwinError(f"{path}: cannot write: {exc.strerror}") from None
    out(f"wrote {path}; edit it, then run: edgetwin check {path}")
    return 0
