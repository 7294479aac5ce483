"""Fixtures every test file may use."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, timeout: float = 120.0, **kw: object
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m agent ARGS`` as a technician would, and capture its output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=kw.pop("cwd", None) or REPO,  # type: ignore[arg-type]
        check=False,
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


def start_agent(*args: str) -> subprocess.Popen[str]:
    """Start ``python -m agent run ARGS`` in the background, output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "agent", "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=REPO,
    )


def wait_while_running(
    proc: subprocess.Popen[str],
    done: Callable[[], bool],
    bound_s: float = 60.0,
    what: str = "the condition",
) -> None:
    """Wait until ``done()`` while ``proc`` runs; fail if it exits or ``bound_s`` passes."""
    deadline = time.monotonic() + bound_s
    while not done():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the agent exited with {proc.returncode}: {err}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {bound_s:g} s")
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.05)  # a bounded wait on the process, not a sleep
