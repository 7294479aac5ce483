"""Every command is documented: in the README's table and with an example in --help."""

from __future__ import annotations

import argparse
import re

from agent.cli.main import build_parser
from tests.conftest import REPO


def commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_command_is_in_the_readme_table() -> None:
    readme = (REPO / "README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z-]+)[ `]", readme, re.M))
    assert set(commands()) <= documented, set(commands()) - documented


def test_every_command_has_an_example_in_its_help() -> None:
    for name, parser in commands().items():
        text = parser.format_help()
        assert "example" in text, f"edgetwin {name} --help has no example"
        assert f"edgetwin {name}" in text, name
