"""MQTT 5, credentials from a password file, and messages above the broker's limit."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agent.clock import SimClock
from agent.config import parse_config
from agent.runtime import Agent
from agent.uplink.envelope import dumps
from agent.uplink.listen import Receiver
from tests.mqtt_broker import Broker
from tests.test_uplink_flow import SITE, config_text, step, uplink_of
from tests.test_uplink_kill import wait_until

ROOT = Path(__file__).resolve().parent.parent
AGENT = [sys.executable, "-m", "agent", "--log-level", "warning", "run"]


def test_mqtt5_agent_publishes_and_its_will_marks_it_offline_after_sigkill(
    tmp_path: Path,
) -> None:
    cfg_file = tmp_path / "edgetwin.toml"
    with Broker(tmp_path / "broker") as broker:
        cfg_file.write_text(
            config_text(tmp_path, broker.port, 3, 1.0, 'protocol = "5"')
        )
        rx = Receiver("127.0.0.1", broker.port, SITE)
        agent = subprocess.Popen(
            [*AGENT, "-c", str(cfg_file), "--speed", "20", "--duration", "1h"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert rx.wait_for(lambda: rx.subscribed, 10)

            def states() -> list[str]:
                return [m.data["state"] for m in rx.of_kind("status")]

            assert wait_until(
                agent, lambda: len(rx.of_kind("summary")) >= 2 and states(), 15
            )
            assert agent.poll() is None, "the agent stopped on its own"
            assert states() == ["online"]
            agent.send_signal(signal.SIGKILL)
            agent.wait(10)
            # The broker sees the socket close without a DISCONNECT: the will goes out.
            assert rx.wait_for(lambda: states() == ["online", "offline"], 10)
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
            rx.close()

        # The will is retained: a receiver that comes later sees the device offline.
        late = Receiver("127.0.0.1", broker.port, SITE)
        try:
            assert late.wait_for(lambda: bool(late.of_kind("status")), 10)
        finally:
            late.close()

    assert not rx.invalid and not late.invalid
    online, offline = rx.of_kind("status")
    assert online.data["config_hash"] == parse_config(cfg_file.read_text()).text_hash
    assert offline.data["reason"] == "connection lost"
    assert offline.data["boot"] == online.data["boot"]
    assert [m.data["state"] for m in late.of_kind("status")] == ["offline"]
    for m in rx.of_kind("summary"):
        assert set(m.data["points"]) == {"p00", "p01", "p02"}
        assert m.data["historical"] is False


def password_broker(workdir: Path, user: str, password: str) -> Broker:
    workdir.mkdir(parents=True, exist_ok=True)
    passwd = workdir / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwd), user, password],
        check=True,
        capture_output=True,
    )
    # The broker runs as the test's user (see Broker), the owner of the file.
    return Broker(workdir, extra=f"password_file {passwd}\n")


@pytest.mark.parametrize("right", [True, False])
def test_credentials_from_the_password_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, right: bool
) -> None:
    secret = tmp_path / "mqtt.secret"
    secret.write_text("s3cret-pass\n" if right else "not-the-pass\n")
    caplog.set_level(logging.INFO, logger="agent.uplink.link")
    with password_broker(tmp_path / "broker", "gw-1", "s3cret-pass") as broker:
        extra = f'username = "gw-1"\npassword_file = "{secret}"'
        cfg = parse_config(config_text(tmp_path, broker.port, 1, 1.0, extra))
        agent = Agent(cfg, SimClock(), state_dir=tmp_path)
        stage = uplink_of(agent)
        link = stage.link
        try:
            if right:
                assert link.wait_for(lambda: link.connected, 10)
                assert link.stats.connect_failures == 0
            else:
                assert link.wait_for(lambda: link.stats.connect_failures >= 3, 15)
                assert link.stats.connects == 0
                assert not link.connected
        finally:
            agent.shutdown("test over")
    lines = [r.getMessage() for r in caplog.records if r.name == "agent.uplink.link"]
    where = f"MQTT broker 127.0.0.1:{broker.port}"
    if right:
        assert lines == [f"connected to {where}"]
    else:
        # Logged once when the refusals start, not once per attempt.
        assert lines == [
            f"{where} refused the connection: Not authorized; retrying with backoff"
        ]


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_summary_above_the_broker_limit_arrives_in_parts_that_hold_every_point(
    tmp_path: Path, protocol: str
) -> None:
    limit = 2000
    # MQTT 5 learns the limit from the broker's CONNACK; 3.1.1 is told in the config.
    extra = f'protocol = "{protocol}"'
    if protocol == "3.1.1":
        extra += f"\nmax_message_bytes = {limit}"
    points = [f"p{i:02d}" for i in range(60)]
    with Broker(tmp_path / "broker", extra=f"max_packet_size {limit}\n") as broker:
        cfg = parse_config(config_text(tmp_path, broker.port, len(points), 1.0, extra))
        clock = SimClock()
        agent = Agent(cfg, clock, state_dir=tmp_path)
        stage = uplink_of(agent)
        rx = Receiver("127.0.0.1", broker.port, SITE)
        try:
            assert rx.wait_for(lambda: rx.subscribed, 10)
            assert stage.link.wait_for(lambda: stage.link.connected, 10)
            if protocol == "5":
                assert stage.link.max_packet_bytes == limit

            def parts() -> list:
                return [m for m in rx.of_kind("summary") if m.data.get("part")]

            def first_window_complete() -> bool:
                got = parts()
                return bool(got) and len(got) >= got[0].data["part"]["count"]

            for _ in range(100):
                if rx.wait_for(first_window_complete, 0.02):
                    break
                step(agent, clock)
            assert first_window_complete()
            assert stage.link.stats.disconnects == 0
        finally:
            agent.shutdown("test over")
            rx.close()

    assert not rx.invalid
    got = parts()
    count = got[0].data["part"]["count"]
    window = got[0].data["window"]
    first = [m.data for m in got if m.data["window"] == window]
    assert count >= 3
    assert [d["part"] for d in first] == [
        {"index": i, "count": count} for i in range(count)
    ]
    seen: list[str] = [name for d in first for name in d["points"]]
    assert sorted(seen) == points  # every point, each once
    assert all(d["points"][p]["n"] == 10 for d in first for p in d["points"])
    assert [d["seq"] for d in first] == sorted(d["seq"] for d in first)
    # Each part, re-encoded as compactly as the agent sends it, fits the broker's limit.
    assert max(len(m.topic) + len(dumps(m.data)) for m in got) < limit
