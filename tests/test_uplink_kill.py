"""SIGKILL with a backlog: after a restart the whole backlog reaches the receiver."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from agent.config import parse_config
from agent.runtime import store_path
from agent.uplink.listen import Receiver
from tests.mqtt_broker import Broker
from tests.test_uplink_flow import SITE, config_text

ROOT = Path(__file__).resolve().parent.parent
BACKLOG_ROWS = 200
AGENT = [sys.executable, "-m", "agent", "--log-level", "warning", "run"]


def run_agent(cfg_file: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*AGENT, "-c", str(cfg_file), "--speed", "max", "--duration", "30d"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def outbox_seqs(db: Path) -> set[int]:
    if not db.exists():
        return set()
    with sqlite3.connect(db, timeout=5) as conn:
        try:
            return {s for (s,) in conn.execute("SELECT seq FROM outbox")}
        except sqlite3.OperationalError:
            return set()  # the schema is not there yet


def wait_until(proc: subprocess.Popen[bytes], cond, timeout_s: float) -> bool:
    """Poll ``cond`` until it holds, waiting on the process in between (bounded)."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            return False
        try:
            proc.wait(timeout=0.05)
            return bool(cond())  # the process ended: one last look
        except subprocess.TimeoutExpired:
            pass
    return True


def test_backlog_held_at_sigkill_arrives_complete_after_restart(
    tmp_path: Path,
) -> None:
    broker = Broker(tmp_path / "broker")  # not started: the agent buffers
    text = config_text(tmp_path, broker.port, 2, 1.0)
    cfg_file = tmp_path / "edgetwin.toml"
    cfg_file.write_text(text)
    db = store_path(parse_config(text), tmp_path)

    first = run_agent(cfg_file)
    try:
        assert wait_until(first, lambda: len(outbox_seqs(db)) >= BACKLOG_ROWS, 30)
        assert first.poll() is None, "the agent stopped on its own"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    held = outbox_seqs(db)
    assert len(held) >= BACKLOG_ROWS

    broker.start()
    rx = Receiver("127.0.0.1", broker.port, SITE)
    second: subprocess.Popen[bytes] | None = None
    try:
        assert rx.wait_for(lambda: rx.subscribed, 10)
        second = run_agent(cfg_file)

        def got() -> set[int]:
            return {m.data["seq"] for m in rx.messages if m.kind != "status"}

        assert rx.wait_for(lambda: held <= got(), 30), len(held - got())
        assert second.poll() is None
    finally:
        if second is not None and second.poll() is None:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(15)
            except subprocess.TimeoutExpired:
                second.kill()
                second.wait()
        rx.close()
        broker.stop()

    assert not rx.invalid
    backlog = [m for m in rx.messages if m.data["seq"] in held]
    assert all(m.data["historical"] for m in backlog)
    assert {m.kind for m in backlog} >= {"summary"}
    # The backlog was made by the killed run, and the restart did not reuse its numbers.
    boots = {m.data["boot"] for m in backlog}
    later = [m for m in rx.messages if m.data["boot"] not in boots]
    assert later, "the restarted agent sent nothing of its own"
    assert min(m.data["seq"] for m in later) > max(held)
