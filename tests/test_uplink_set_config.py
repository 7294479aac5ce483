"""set_config end to end: an agent subprocess restarts with a pushed configuration.

The test plays the service manager: when the agent stops itself to restart,
the test starts it again with the same file.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import parse_config
from agent.errors import ConfigError
from agent.uplink.config_switch import ConfigSwitch
from agent.uplink.listen import Receiver
from tests.mqtt_broker import Broker, free_port
from tests.test_uplink_flow import SITE, command, config_text
from tests.test_uplink_kill import wait_until

ROOT = Path(__file__).resolve().parent.parent
AGENT = [sys.executable, "-m", "agent", "--log-level", "warning", "run"]
KEY = b"device-secret"
TRIAL_S = 3


class Service:
    """Start the agent again whenever it stops, as the service manager would."""

    def __init__(self, cfg_file: Path) -> None:
        self.cfg_file = cfg_file
        self.proc: subprocess.Popen[str] | None = None
        self.runs = 0

    def start(self) -> subprocess.Popen[str]:
        assert self.proc is None or self.proc.poll() is not None
        self.runs += 1
        log = self.cfg_file.with_name(f"agent-{self.runs}.log")
        self.proc = subprocess.Popen(
            [*AGENT, "-c", str(self.cfg_file), "--speed", "10", "--duration", "1d"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
            text=True,
        )
        return self.proc

    def log(self) -> str:
        return self.cfg_file.with_name(f"agent-{self.runs}.log").read_text()

    def wait_exit(self, timeout_s: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout_s)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def agent_config(state_dir: Path, port: int, points: int, key_file: Path) -> str:
    extra = f'command_key_file = "{key_file}"\nconfig_trial_s = {TRIAL_S}'
    return config_text(state_dir, port, points, 1.0, extra)


def text_hash(text: str) -> str:
    return parse_config(text).text_hash


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Broker, Receiver, Service, Path, Path]]:
    key_file = tmp_path / "cmd.key"
    key_file.write_bytes(KEY)
    cfg_file = tmp_path / "edgetwin.toml"
    with Broker(tmp_path / "broker") as broker:
        cfg_file.write_text(agent_config(tmp_path, broker.port, 1, key_file))
        rx = Receiver("127.0.0.1", broker.port, SITE)
        service = Service(cfg_file)
        try:
            assert rx.wait_for(lambda: rx.subscribed, 10)
            yield broker, rx, service, cfg_file, key_file
        finally:
            service.stop()
            rx.close()
    assert not rx.invalid


def online_hashes(rx: Receiver) -> list[str]:
    return [
        m.data["config_hash"]
        for m in rx.of_kind("status")
        if m.data["state"] == "online"
    ]


def push(rx: Receiver, cmd_id: str, text: str) -> None:
    body = {"text": text}
    payload = command("set_config", cmd_id, time.time() + 1800, body, KEY)
    topic = f"edgetwin/v1/{SITE}/gw-1/cmd/set_config"
    rx.client.publish(topic, payload, qos=1).wait_for_publish(5)


def result(rx: Receiver, cmd_id: str) -> dict | None:
    got = [m.data for m in rx.of_kind("result") if m.data["id"] == cmd_id]
    return got[0] if got else None


def side_files(cfg_file: Path) -> list[str]:
    return sorted(
        p.name for p in cfg_file.parent.glob(cfg_file.name + ".*") if p != cfg_file
    )


def test_set_config_restarts_the_agent_with_the_new_file_and_confirms_it(
    setup: tuple[Broker, Receiver, Service, Path, Path],
) -> None:
    broker, rx, service, cfg_file, key_file = setup
    old = cfg_file.read_text()
    new = agent_config(cfg_file.parent, broker.port, 2, key_file)
    first = service.start()
    assert wait_until(first, lambda: online_hashes(rx) == [text_hash(old)], 15)

    push(rx, "cfg-1", new)
    # The agent stops itself (SIGTERM to its own process) to restart.
    assert service.wait_exit(15) == 0, service.log()
    assert cfg_file.read_text() == new
    assert (cfg_file.parent / "edgetwin.toml.prev").read_text() == old
    assert side_files(cfg_file) == ["edgetwin.toml.prev", "edgetwin.toml.trial"]

    second = service.start()
    assert wait_until(second, lambda: online_hashes(rx)[-1:] == [text_hash(new)], 15), (
        service.log()
    )
    # Healthy with it (connected, birth sent): the trial and the old file go.
    assert wait_until(second, lambda: side_files(cfg_file) == [], 5)
    assert rx.wait_for(lambda: result(rx, "cfg-1") is not None, 10)
    r = result(rx, "cfg-1")
    assert r is not None
    assert r["status"] == "ok", r
    assert r["result"] == {"config_hash": text_hash(new), "trial_s": TRIAL_S}
    assert wait_until(
        second,
        lambda: any(
            set(m.data["points"]) == {"p00", "p01"} for m in rx.of_kind("summary")
        ),
        10,
    )
    assert second.poll() is None


def test_a_pushed_configuration_that_does_not_come_up_healthy_is_rolled_back(
    setup: tuple[Broker, Receiver, Service, Path, Path],
) -> None:
    _, rx, service, cfg_file, key_file = setup
    old = cfg_file.read_text()
    # Valid, but its broker is nowhere: the agent never connects with it.
    unhealthy = agent_config(cfg_file.parent, free_port(), 2, key_file)
    first = service.start()
    assert wait_until(first, lambda: online_hashes(rx) == [text_hash(old)], 15)

    push(rx, "cfg-2", unhealthy)
    assert service.wait_exit(15) == 0, service.log()
    assert cfg_file.read_text() == unhealthy

    # The run with the new file puts the old one back by itself and stops.
    started = time.monotonic()
    service.start()
    assert service.wait_exit(TRIAL_S + 10) == 0, service.log()
    assert time.monotonic() - started >= TRIAL_S
    assert "did not come up healthy in time; rolled back" in service.log()
    assert cfg_file.read_text() == old
    assert side_files(cfg_file) == []

    third = service.start()
    # Back with the old file: a second birth message with the old hash.
    assert wait_until(third, lambda: online_hashes(rx) == [text_hash(old)] * 2, 15), (
        service.log()
    )
    assert rx.wait_for(lambda: result(rx, "cfg-2") is not None, 10)
    r = result(rx, "cfg-2")
    assert r is not None and r["status"] == "ok", r
    assert third.poll() is None


def test_an_invalid_configuration_is_rejected_with_its_problems_and_nothing_changes(
    setup: tuple[Broker, Receiver, Service, Path, Path],
) -> None:
    broker, rx, service, cfg_file, key_file = setup
    before = cfg_file.read_bytes()
    mtime_ns = cfg_file.stat().st_mtime_ns
    bad = agent_config(cfg_file.parent, broker.port, 1, key_file).replace(
        "window_s = 10", "window_s = -5\ninflight_max = 0"
    )
    problems = parse_problems(bad)
    assert len(problems) >= 2
    agent = service.start()
    assert wait_until(agent, lambda: bool(online_hashes(rx)), 15)

    push(rx, "cfg-3", bad)
    assert wait_until(agent, lambda: result(rx, "cfg-3") is not None, 10)
    r = result(rx, "cfg-3")
    assert r is not None
    assert r["status"] == "rejected"
    assert r["reason"].startswith("invalid configuration: ")
    for line in problems:
        assert line.replace("<string>", "new configuration") in r["reason"]
    assert agent.poll() is None, "the agent restarted for an invalid configuration"
    assert cfg_file.read_bytes() == before
    assert cfg_file.stat().st_mtime_ns == mtime_ns
    assert side_files(cfg_file) == []


def parse_problems(text: str) -> list[str]:
    try:
        parse_config(text, "new configuration")
    except ConfigError as exc:
        return exc.problems
    return []


def test_the_trial_deadline_is_wall_clock_time(tmp_path: Path) -> None:
    key_file = tmp_path / "k"
    key_file.write_bytes(KEY)
    cfg_file = tmp_path / "edgetwin.toml"
    port = free_port()  # named in the text only: nothing connects here
    cfg_file.write_text(agent_config(tmp_path, port, 1, key_file))
    restarts: list[int] = []
    switch = ConfigSwitch(
        cfg_file, trial_s=60, restart=lambda: restarts.append(1), wall=lambda: 1000.0
    )
    switch.stage(agent_config(tmp_path, port, 2, key_file))
    trial = json.loads((tmp_path / "edgetwin.toml.trial").read_text())
    assert trial["deadline"] == 1060.0
    assert restarts == [1]
