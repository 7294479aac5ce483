"""Safety of ``edgetwin run`` and ``edgetwin safe-state`` as a technician meets them.

One agent per database (two real processes), the summary after SIGTERM,
``--speed`` refused on real devices, simulated runs into one state
directory following each other in time, ``safe-state`` acting on a
configuration with problems (a Modbus simulator on loopback holds the
coils), and a clean stop against a real mosquitto leaving an empty outbox
and one event per safe-state write.
"""

from __future__ import annotations

import csv
import io
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.cli.cmd_run import newest_ts
from agent.clock import SimClock
from agent.config import default_config, parse_config
from agent.runlock import lock_path
from agent.runtime import Agent, store_path
from agent.store.store import Store
from agent.uplink.listen import Receiver
from drivers.modbus.sim import SimUnit, TcpSimServer
from tests.conftest import run_cli, start_agent, wait_while_running
from tests.mqtt_broker import Broker
from tests.test_uplink_flow import SITE, config_text, step, uplink_of


@pytest.fixture
def running(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """The built-in simulated plant at 60x real time, for at most an hour of it."""
    proc = start_agent(
        "--speed", "60", "--duration", "1h", "--state-dir", str(tmp_path)
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def db_of(state_dir: Path) -> Path:
    return store_path(default_config(), state_dir)


def holds_lock(state_dir: Path, pid: int) -> Callable[[], bool]:
    """The agent holds the lock and runs its loop (a batch was committed)."""

    def check() -> bool:
        lock = lock_path(db_of(state_dir))
        if not lock.exists() or lock.read_text().strip() != str(pid):
            return False
        return newest_ts(db_of(state_dir)) is not None

    return check


# -- one agent per database ------------------------------------------------------


def test_second_agent_on_the_same_database_is_refused(
    tmp_path: Path, running: subprocess.Popen[str]
) -> None:
    wait_while_running(running, holds_lock(tmp_path, running.pid), 30, "the lock")
    db = db_of(tmp_path)
    r = run_cli(
        "run", "--speed", "max", "--duration", "1m", "--state-dir", str(tmp_path)
    )
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        f"edgetwin: {db} is in use by another agent (pid {running.pid})"
    ]
    # Readers still work while the agent runs.
    s = run_cli("status", "--state-dir", str(tmp_path))
    assert s.returncode == 0, s.stderr
    assert str(db) in s.stdout

    running.send_signal(signal.SIGTERM)
    assert running.wait(timeout=30) == 0
    # Released at the stop: the next agent opens the database.
    again = run_cli(
        "run", "--speed", "max", "--duration", "1m", "--state-dir", str(tmp_path)
    )
    assert again.returncode == 0, again.stderr


def test_summary_after_sigterm_counts_the_agent_time_run(
    tmp_path: Path, running: subprocess.Popen[str]
) -> None:
    wait_while_running(running, holds_lock(tmp_path, running.pid), 30, "the lock")
    running.send_signal(signal.SIGTERM)
    out, err = running.communicate(timeout=30)
    assert running.returncode == 0, err
    m = re.search(r"ran (\d+) s of agent time", out)
    assert m, out
    # Stopped a few real seconds in at 60x: far less than the hour asked for.
    assert 0 <= int(m.group(1)) < 3600


def test_summary_of_a_full_run_is_its_duration(tmp_path: Path) -> None:
    r = run_cli(
        "run", "--speed", "max", "--duration", "2m", "--state-dir", str(tmp_path)
    )
    assert r.returncode == 0, r.stderr
    assert "ran 120 s of agent time" in r.stdout


# -- --speed only on simulated devices -------------------------------------------

REAL_SITE = """\
[agent]
state_dir = "{state_dir}"

[[devices]]
name = "plant"
kind = "sim"

[[devices]]
name = "plc"
kind = "modbus-tcp"
host = "127.0.0.1"
port = {port}

[[actuators]]
name = "pump"
device = "plc"
address = "00001"
safe_value = 0
"""


def test_speed_is_refused_on_a_real_device(tmp_path: Path) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text(REAL_SITE.format(state_dir=tmp_path, port=15020))
    r = run_cli("run", "-c", str(cfg), "--speed", "max", "--duration", "1m")
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "edgetwin: --speed max: device 'plc' (modbus-tcp) is real"
    )
    assert "--allow-real-devices" in lines[0]
    assert not db_of(tmp_path).exists()  # refused before anything was opened


# -- simulated runs into one state directory -------------------------------------


def test_second_simulated_run_follows_the_first_in_time(tmp_path: Path) -> None:
    args = ("run", "--speed", "max", "--duration", "5m", "--state-dir", str(tmp_path))
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    with Store(db_of(tmp_path)) as store:
        first_ts = [r.ts for r in store.iter_readings()]
        first_end = max([*first_ts, *(e.ts for e in store.events())])
    second = run_cli(*args)
    assert second.returncode == 0, second.stderr
    with Store(db_of(tmp_path)) as store:
        all_ts = [r.ts for r in store.iter_readings()]
    new_ts = all_ts[len(first_ts) :]
    assert len(new_ts) > 0
    assert min(new_ts) > first_end
    assert all_ts == sorted(all_ts)

    exported = run_cli("export", "--state-dir", str(tmp_path), "-o", "-")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == len(all_ts)
    ts_col = next(k for k in rows[0] if k.startswith("t"))
    times = [r[ts_col] for r in rows]
    assert times == sorted(times)


# -- safe-state on a configuration with problems ---------------------------------

BROKEN_SITE = """\
[agent]
state_dir = "{state_dir}"

[store]
max_age_dayz = 3

[[devices]]
name = "plc"
kind = "modbus-tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 1

[[actuators]]
name = "pump"
device = "plc"
address = "00001"
safe_value = 0

[[actuators]]
name = "heater"
device = "plc"
address = "00002"
safe_value = 7
"""


def test_safe_state_acts_despite_an_unrelated_typo(tmp_path: Path) -> None:
    unit = SimUnit(1)
    unit.set_registers("coil", 0, [1, 1])  # both away from safe
    server = TcpSimServer([unit])
    try:
        cfg = tmp_path / "site.toml"
        cfg.write_text(BROKEN_SITE.format(state_dir=tmp_path, port=server.port))
        r = run_cli("safe-state", "-c", str(cfg))
        coils = unit.get_registers("coil", 0, 2)
    finally:
        server.close()
    assert r.returncode == 2
    problems = [ln for ln in r.stderr.splitlines() if ln.startswith("edgetwin: ")]
    assert f"edgetwin: {cfg}: store.max_age_dayz: unknown key" in problems[0]
    assert any("actuators[1].safe_value: 7 is outside" in ln for ln in problems)
    assert r.stdout.splitlines() == ["pump: off (read back 0)"]
    # The pump is safe; the heater, whose own settings are wrong, is untouched.
    assert coils == [0, 1]


def test_safe_state_on_an_unreadable_configuration_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text("[store\n")
    r = run_cli("safe-state", "-c", str(cfg))
    assert r.returncode == 2
    assert r.stderr.startswith(f"edgetwin: {cfg}: not valid TOML")


# -- a clean stop against a real broker ------------------------------------------


def test_clean_stop_flushes_the_outbox_and_sends_one_event_per_write(
    tmp_path: Path,
) -> None:
    with Broker(tmp_path / "broker") as broker:
        cfg = parse_config(config_text(tmp_path, broker.port, 2, 1.0))
        clock = SimClock()
        rx = Receiver("127.0.0.1", broker.port, SITE)
        try:
            assert rx.wait_for(lambda: rx.subscribed, 10)
            agent = Agent(cfg, clock, state_dir=tmp_path)
            stage = uplink_of(agent)
            try:
                assert stage.link.wait_for(lambda: stage.link.connected, 10)
                for _ in range(30):
                    step(agent, clock)
            finally:
                agent.shutdown("test over")

            def actuation_events() -> list[dict]:
                return [
                    m.data
                    for m in rx.of_kind("event")
                    if m.data.get("kind") == "actuation"
                ]

            def stopped() -> bool:
                return any(
                    m.data.get("kind") == "agent_stopped" for m in rx.of_kind("event")
                )

            assert rx.wait_for(stopped, 10)
        finally:
            rx.close()

    events = actuation_events()
    # One actuator, one safe-state write at the stop, one explained event.
    assert len(events) == 1
    assert events[0]["source"] == "safe-state"
    assert events[0]["data"]["actuator"] == "fan"
    with Store(store_path(cfg, tmp_path)) as store:
        (rows,) = store.conn.execute("SELECT count(*) FROM outbox").fetchone()
        writes = store.conn.execute(
            "SELECT count(*) FROM actuations WHERE source = 'safe-state'"
        ).fetchone()[0]
    assert writes == 1
    assert rows == 0
