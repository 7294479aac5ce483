"""Fail-safe: after SIGTERM, and after SIGKILL then ``edgetwin safe-state``,
every actuator holds its fail-safe value.

The agent runs as a real subprocess (``python -m agent run``) on the
simulated plant, on a simulated clock as fast as it goes. The plant lives
inside that process, so the check is on what the store recorded and on
what ``safe-state`` reads back from the devices.
"""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_cli, start_agent, wait_while_running

CONFIG = """
[agent]
state_dir = "{state_dir}"

[store]
commit_interval_s = 1

[[devices]]
name = "plant"
kind = "sim"

[[points]]
name = "cabinet_temp_c"
device = "plant"
address = "cabinet_temp_c"
unit = "°C"
period_s = 5

[[actuators]]
name = "heater"
device = "plant"
address = "heater"
kind = "binary"
safe_value = 0

[[actuators]]
name = "fan"
device = "plant"
address = "fan"
kind = "analog"
unit = "%"
safe_value = 1
[actuators.envelope]
max_rate_per_s = 0.01

[control]
enabled = true

[control.policies.heater]
kind = "hysteresis"
point = "cabinet_temp_c"
on_at = 30
off_at = 32

[control.policies.fan]
kind = "hysteresis"
point = "cabinet_temp_c"
on_at = 36
off_at = 34
"""


def _last(db: Path) -> dict[str, tuple[float, str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT actuator, value, source FROM actuations ORDER BY id"
        ).fetchall()
    return {a: (v, s) for a, v, s in rows}


def _policy_writes_of_both(db: Path) -> Callable[[], bool]:
    """True once the running agent has committed policy writes of both actuators."""

    def done() -> bool:
        if not db.exists():
            return False
        try:
            with sqlite3.connect(db) as conn:
                n = conn.execute(
                    "SELECT COUNT(DISTINCT actuator) FROM actuations"
                    " WHERE source = 'policy'"
                ).fetchone()[0]
        except sqlite3.OperationalError:
            return False
        return bool(n == 2)

    return done


@pytest.fixture
def site(tmp_path: Path) -> Path:
    cfg = tmp_path / "site.toml"
    cfg.write_text(CONFIG.format(state_dir=tmp_path))
    return cfg


def test_sigterm_leaves_every_actuator_safe(site: Path) -> None:
    db = site.parent / "edgetwin.db"
    proc = start_agent("-c", str(site), "--speed", "max")
    try:
        wait_while_running(proc, _policy_writes_of_both(db), 60, "policy writes")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    last = _last(db)
    assert last == {"heater": (0.0, "safe-state"), "fan": (1.0, "safe-state")}


def test_sigkill_then_safe_state_command(site: Path) -> None:
    db = site.parent / "edgetwin.db"
    proc = start_agent("-c", str(site), "--speed", "max")
    try:
        wait_while_running(proc, _policy_writes_of_both(db), 60, "policy writes")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Killed: nothing put the outputs back; the service manager runs safe-state.
    assert any(src == "policy" for _, src in _last(db).values())
    r = run_cli("safe-state", "-c", str(site))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "heater: off (read back 0)\nfan: 100 % (read back 1)\n"
    assert _last(db) == {"heater": (0.0, "safe-state"), "fan": (1.0, "safe-state")}
    r = run_cli("explain", "fan", "-c", str(site))
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith(", its fail-safe value: edgetwin safe-state.\n")
    assert r.stdout.startswith("fan set to 100 % at ")
