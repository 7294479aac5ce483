"""``edgetwin check``: validate a configuration file and show what it defines."""

from __future__ import annotations

import argparse

from agent.cli.common import out
from agent.config import Config, load_config

HELP = """\
Validate a site configuration without running anything. Every problem is
printed, one per line, naming the key; the exit status is 2 if there is any.

example:
  edgetwin check /etc/edgetwin/edgetwin.toml
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="validate a configuration file",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="the TOML file to check")
    p.set_defaults(func=check)


def describe(config: Config) -> list[str]:
    """Return a technician's summary of what the configuration defines."""
    lines = [
        f"site {config.site.site}, device {config.site.device}",
        f"{len(config.devices)} devices, {len(config.points)} points, "
        f"{len(config.actuators)} actuators",
        "",
        "devices:",
    ]
    for d in config.devices:
        lines.append(
            f"  {d.name:<16} {d.kind:<12} timeout {d.timeout_s:g} s, {d.retries} retries"
        )
    lines += ["", "points:"]
    for p in config.points:
        unit = f" {p.unit}" if p.unit else ""
        rng = ""
        if p.valid_min != float("-inf") or p.valid_max != float("inf"):
            rng = f", valid {p.valid_min:g} to {p.valid_max:g}{unit}"
        lines.append(f"  {p.name:<24} {p.device:<12} every {p.period_s:g} s{rng}")
    if config.actuators:
        lines += ["", "actuators:"]
        for a in config.actuators:
            lines.append(
                f"  {a.name:<16} {a.device:<12} {a.kind}, {a.min:g} to {a.max:g}, "
                f"safe value {a.safe_value:g}"
            )
    lines += [
        "",
        f"store: {config.store.path}, commit every {config.store.commit_interval_s:g} s, "
        f"at most {config.store.max_size_mb:g} MB and {config.store.max_age_days:g} days",
    ]
    return lines


def check(args: argparse.Namespace) -> int:
    config = load_config(args.file)
    out(f"{args.file}: OK")
    for line in describe(config):
        out(line)
    return 0
