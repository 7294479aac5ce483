"""The runtime: schedule on the simulated clock, hung devices, clean stops."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from agent.clock import SimClock
from agent.config import parse_config
from agent.reading import Quality
from agent.runtime import Agent
from agent.store.store import Store
from tests.conftest import REPO

START = 1_767_225_600.0


def two_devices(state_dir: Path, hang_from_h: float | None = None) -> str:
    hang = ""
    if hang_from_h is not None:
        hang = f'faults = [{{ kind = "device_hang", start_h = {hang_from_h}, duration_h = 100 }}]'
    return f"""
[agent]
state_dir = "{state_dir}"
[[devices]]
name = "good"
kind = "sim"
[[devices]]
name = "stuck"
kind = "sim"
timeout_s = 0.05
{hang}
[[points]]
name = "fast"
device = "good"
address = "cabinet_temp_c"
period_s = 1
[[points]]
name = "slow"
device = "good"
address = "power_w"
period_s = 5
[[points]]
name = "wedged"
device = "stuck"
address = "ambient_temp_c"
period_s = 2
[[actuators]]
name = "fan"
device = "good"
address = "fan"
kind = "analog"
safe_value = 1
"""


def test_each_point_on_its_own_period(tmp_path: Path) -> None:
    cfg = parse_config(two_devices(tmp_path))
    agent = Agent(cfg, SimClock(start=START), state_dir=tmp_path)
    agent.run(600)

    with Store(tmp_path / "edgetwin.db") as store:
        readings = list(store.iter_readings())
    counts = Counter(r.point for r in readings)
    assert counts == {"fast": 600, "slow": 120, "wedged": 300}
    fast_ts = [r.ts for r in readings if r.point == "fast"]
    assert fast_ts == [START + i for i in range(600)]
    assert all(r.quality is Quality.GOOD for r in readings)


def test_hung_device_does_not_delay_the_others(tmp_path: Path) -> None:
    # The stuck device's reads block from the first minute on; the good
    # device's points must still be read on every period slot.
    cfg = parse_config(two_devices(tmp_path, hang_from_h=1 / 60))
    agent = Agent(cfg, SimClock(start=START), state_dir=tmp_path)
    agent.run(600)

    with Store(tmp_path / "edgetwin.db") as store:
        readings = list(store.iter_readings())
        events = store.events("fault")
    fast = [r for r in readings if r.point == "fast"]
    assert [r.ts for r in fast] == [START + i for i in range(600)]
    assert all(r.quality is Quality.GOOD for r in fast)
    slow = [r for r in readings if r.point == "slow"]
    assert [r.ts for r in slow] == [START + 5 * i for i in range(120)]

    wedged = [r for r in readings if r.point == "wedged"]
    assert len(wedged) == 300
    assert all(r.quality is Quality.GOOD for r in wedged if r.ts < START + 60)
    late = [r.quality for r in wedged if r.ts >= START + 60]
    # One timeout, then the worker is known busy and no further time is spent.
    assert late[0] is Quality.TIMEOUT
    assert set(late[1:]) == {Quality.BUSY}
    # The outage is recorded once, not once per poll.
    assert len(events) == 1
    assert events[0].message == "device 'stuck' not answering: no answer within 0.05 s"


class StopAt(SimClock):
    """A simulated clock that calls ``on_limit`` when asked to wait past ``limit``."""

    def __init__(self, limit: float) -> None:
        super().__init__(start=START)
        self.limit = limit
        self.on_limit = lambda: None

    def sleep_until(self, t: float, stop: threading.Event | None = None) -> bool:
        if t >= self.limit:
            self.on_limit()
        return super().sleep_until(t, stop)


def test_stop_request_flushes_and_goes_safe(tmp_path: Path) -> None:
    cfg = parse_config(two_devices(tmp_path))
    clock = StopAt(limit=START + 600)
    agent = Agent(cfg, clock, state_dir=tmp_path)
    clock.on_limit = agent.stop
    agent.run()  # no duration: only the stop request ends it

    with Store(tmp_path / "edgetwin.db") as store:
        n = store.count_readings()
        acts = store.conn.execute(
            "SELECT actuator, value, source FROM actuations ORDER BY id"
        ).fetchall()
        kinds = [e.kind for e in store.events()]
        told = [e.message for e in store.events("actuation")]
    assert n >= 600 + 120 + 300
    assert told[-1].startswith("fan set to 1 at ")
    assert told[-1].endswith(", its fail-safe value: agent stopped.")
    assert acts[-1] == ("fan", 1.0, "safe-state")
    assert kinds[0] == "agent_started" and kinds[-1] == "agent_stopped"


def test_sigterm_stops_the_daemon_cleanly(tmp_path: Path) -> None:
    cfg_file = tmp_path / "site.toml"
    cfg_file.write_text(two_devices(tmp_path))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", "run", "-c", str(cfg_file), "--speed", "60"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    # Wait for the agent to say it runs, then stop it as systemd would.
    for line in proc.stderr:
        if "running" in line:
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=30) == 0, rest
    assert "received SIGTERM, stopping" in rest

    conn = sqlite3.connect(tmp_path / "edgetwin.db")
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    last = conn.execute(
        "SELECT actuator, value, source FROM actuations ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert last == ("fan", 1.0, "safe-state")
    kinds = [k for (k,) in conn.execute("SELECT kind FROM events ORDER BY id")]
    assert kinds[-1] == "agent_stopped"


def test_out_of_range_and_garbage_values_are_marked(tmp_path: Path) -> None:
    text = f"""
[agent]
state_dir = "{tmp_path}"
[[devices]]
name = "plant"
kind = "sim"
[[points]]
name = "tight"
device = "plant"
address = "cabinet_temp_c"
valid_min = 100
valid_max = 200
[[points]]
name = "scaled"
device = "plant"
address = "door_open"
scale = 10
offset = 3
"""
    agent = Agent(parse_config(text), SimClock(start=START), state_dir=tmp_path)
    frame = agent.cycle(START)
    agent.shutdown("test")
    by_point = {r.point: r for r in frame.readings}
    tight = by_point["tight"]
    assert tight.quality is Quality.OUT_OF_RANGE
    assert tight.value is not None and tight.value < 100
    assert tight.reason.endswith("outside 100 to 200")
    assert by_point["scaled"].value == 3.0
