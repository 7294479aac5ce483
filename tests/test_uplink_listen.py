"""``edgetwin listen`` against a real mosquitto: check, de-duplicate, print, store."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.uplink.envelope import Identity, dumps
from tests.mqtt_broker import Broker

SITE = "plant-l"
ROOT = Path(__file__).resolve().parent.parent
LISTEN = [sys.executable, "-m", "agent", "listen"]


@pytest.fixture
def broker(tmp_path: Path):
    with Broker(tmp_path / "broker") as b:
        yield b


def start_listen(port: int, *extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*LISTEN, "--port", str(port), "--site", SITE, "--timeout", "20s", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    # The command says so once its subscription is confirmed (or it exits).
    first = proc.stderr.readline()
    assert first.startswith("listening on"), first + proc.stderr.read()
    return proc


def publish_all(port: int, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def traffic() -> list[tuple[str, bytes]]:
    me = Identity(SITE, "gw-9", "boot-1")
    online = dumps(
        me.envelope(1, 1_700_000_000.0, state="online", version="1", config_hash="abc")
    )
    event = dumps(
        me.envelope(
            2,
            1_700_000_001.0,
            kind="fault",
            severity="error",
            source="plant",
            message="plant: no answer",
            event_ts=1_700_000_001.0,
        )
    )
    no_seq = dumps(
        {
            "v": 1,
            "device": "gw-9",
            "boot": "boot-1",
            "ts": 1.0,
            "historical": False,
            "state": "offline",
        }
    )
    return [
        (me.topic("status"), online),
        (me.topic("status"), online),  # the same (device, boot, seq): a duplicate
        (me.topic("event"), b"{not json"),
        (me.topic("status"), no_seq),  # schema: seq is required
        (me.topic("event"), event),
    ]


def test_listen_prints_valid_messages_once_and_reports_the_rest(
    broker: Broker,
) -> None:
    proc = start_listen(broker.port, "--count", "2")
    try:
        publish_all(broker.port, traffic())
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    lines = stdout.splitlines()
    assert lines == [
        "2023-11-14 22:13:20 gw-9 status  seq=1 online",
        "2023-11-14 22:13:21 gw-9 event   seq=2 fault [error] plant: no answer",
    ]
    assert "2 messages accepted, 1 duplicates dropped, 2 invalid" in stderr
    assert "not JSON" in stderr
    assert "'seq' is a required property" in stderr


def test_listen_stores_accepted_messages_in_sqlite(
    broker: Broker, tmp_path: Path
) -> None:
    db = tmp_path / "rx.db"
    proc = start_listen(broker.port, "--count", "2", "--store", str(db))
    try:
        publish_all(broker.port, traffic())
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert stdout == ""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT kind, device, boot, seq, historical FROM messages ORDER BY seq"
        ).fetchall()
    assert rows == [
        ("status", "gw-9", "boot-1", 1, 0),
        ("event", "gw-9", "boot-1", 2, 0),
    ]


def test_listen_without_a_broker_is_one_line_and_exit_2(tmp_path: Path) -> None:
    from tests.mqtt_broker import free_port

    port = free_port()
    r = subprocess.run(
        [*LISTEN, "--port", str(port), "--site", SITE],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"edgetwin: listen: cannot connect to 127.0.0.1:{port}:"
        " [Errno 111] Connection refused"
    ]
