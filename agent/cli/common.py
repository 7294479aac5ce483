"""What the commands share: loading the configuration, parsing durations, output."""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

from agent.config import DEFAULT_PATH, Config, default_config, load_config

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def duration(text: str) -> float:
    """Parse ``90``, ``90s``, ``10m``, ``2h`` or ``7d`` into seconds."""
    m = _DURATION.match(text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration (examples: 90s, 10m, 2h, 7d)"
        )
    return float(m.group(1)) * _UNIT_S[m.group(2) or "s"]


def add_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help=f"site configuration (default: {DEFAULT_PATH} if it exists, "
        "else the built-in simulated plant)",
    )
    p.add_argument(
        "--state-dir",
        metavar="DIR",
        help="where the database lives (default: the configuration's agent.state_dir)",
    )


def resolve_config(args: argparse.Namespace) -> Config:
    """Load ``--config``, else the default path, else the built-in demo."""
    if args.config:
        return load_config(args.config)
    if DEFAULT_PATH.exists():
        return load_config(DEFAULT_PATH)
    return default_config()


def state_dir(args: argparse.Namespace, config: Config) -> Path:
    return Path(args.state_dir or config.agent.state_dir)


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def progress(line: str) -> None:
    """Report progress of long work on stderr, leaving stdout to the results."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def positive_float(text: str) -> float:
    """A finite number above zero (an argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number above 0")
    return value


def positive_int(text: str) -> int:
    """A whole number above zero (an argparse type)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return value
