"""The uplink against a real mosquitto: summaries through broker restarts, commands."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from agent.clock import SimClock
from agent.config import parse_config
from agent.runtime import Agent
from agent.uplink import schemas
from agent.uplink.commands import signature
from agent.uplink.listen import Receiver
from agent.uplink.stage import UplinkStage
from tests.mqtt_broker import Broker

SITE = "plant-a"


def config_text(
    state_dir: Path, port: int, points: int, period_s: float, extra: str = ""
) -> str:
    lines = [
        "[site]",
        f'site = "{SITE}"',
        'device = "gw-1"',
        "[agent]",
        f'state_dir = "{state_dir}"',
        "[store]",
        "commit_interval_s = 5",
        "[[devices]]",
        'name = "plant"',
        'kind = "sim"',
        "[[actuators]]",
        'name = "fan"',
        'device = "plant"',
        'address = "fan"',
        'kind = "analog"',
        "min = 0",
        "max = 1",
        "safe_value = 1",
    ]
    for i in range(points):
        lines += [
            "[[points]]",
            f'name = "p{i:02d}"',
            'device = "plant"',
            'address = "cabinet_temp_c"',
            f"period_s = {period_s}",
        ]
    lines += [
        "[uplink]",
        "enabled = true",
        f"port = {port}",
        "window_s = 10",
        "reconnect_min_s = 0.5",
        "reconnect_max_s = 1.0",
        "ack_delete_interval_s = 10",
        "backlog_rate_msgs_s = 50",
        extra,
    ]
    return "\n".join(lines)


def uplink_of(agent: Agent) -> UplinkStage:
    stage = next(s for s in agent.stages if s.name == "uplink")
    assert isinstance(stage, UplinkStage)
    return stage


def step(agent: Agent, clock: SimClock) -> None:
    due = agent.sampler.next_due()
    clock.sleep_until(due)
    agent.cycle(due)


def upstream(rx: Receiver) -> list:
    return [m for m in rx.messages if m.kind != "status"]


@pytest.fixture
def broker(tmp_path: Path):
    with Broker(tmp_path / "broker") as b:
        yield b


def test_every_summary_arrives_through_three_broker_restarts(
    tmp_path: Path, broker: Broker
) -> None:
    cfg = parse_config(config_text(tmp_path, broker.port, 10, 1.0))
    clock = SimClock()
    agent = Agent(cfg, clock, state_dir=tmp_path)
    stage = uplink_of(agent)
    rx = Receiver("127.0.0.1", broker.port, SITE)
    assert rx.wait_for(lambda: rx.subscribed, 10)
    assert stage.link.wait_for(lambda: stage.link.connected, 10)
    try:
        for i in range(1000):  # 10 points at 1 Hz: 10,000 readings
            step(agent, clock)
            if i in (250, 500, 750):
                # Let what the broker acknowledged reach the receiver first:
                # with persistence off, mosquitto forgets its queues on stop.
                assert rx.wait_for(
                    lambda: (
                        len(upstream(rx)) + rx.duplicates >= stage.outbox.stats.acked
                    ),
                    10,
                )
                broker.stop()
                assert stage.link.wait_for(lambda: not stage.link.connected, 10)
            if i in (300, 550, 800):
                broker.start()
                assert stage.link.wait_for(lambda: stage.link.connected, 10)
        agent.store.commit()
        last = stage.outbox.seq.next - 1
        expected = {
            s
            for (s,) in agent.store.conn.execute(
                "SELECT seq FROM outbox WHERE seq <= ?", (last,)
            )
        }

        def complete() -> bool:
            got = {m.data["seq"] for m in upstream(rx)}
            return expected <= got

        for _ in range(2000):
            if rx.wait_for(complete, 0.05):
                break
            step(agent, clock)
        assert complete()
    finally:
        agent.shutdown("test over")
        rx.close()

    msgs = upstream(rx)
    assert not rx.invalid
    summaries = [m.data for m in msgs if m.kind == "summary" and m.data["seq"] <= last]
    readings = sum(p["n"] for s in summaries for p in s["points"].values())
    assert readings >= 9_900  # the last open window is sent at shutdown
    # In order per topic, within the live stream and within the historical one.
    by_stream: dict[tuple[str, bool], list[int]] = defaultdict(list)
    for m in msgs:
        by_stream[(m.topic, m.data["historical"])].append(m.data["seq"])
    for seqs in by_stream.values():
        assert seqs == sorted(seqs)
    assert any(m.data["historical"] for m in msgs)
    assert stage.link.stats.disconnects == 3


def command(
    name: str, cmd_id: str, expires: float, body: dict, key: bytes | None = None
) -> bytes:
    data = {"id": cmd_id, "expires": expires, "body": body}
    if key is not None:
        data["sig"] = signature(key, name, cmd_id, expires, body)
    return json.dumps(data).encode()


def test_bad_commands_are_rejected_with_a_reason_and_change_nothing(
    tmp_path: Path, broker: Broker
) -> None:
    key_file = tmp_path / "cmd.key"
    key_file.write_bytes(b"device-secret")
    cfg = parse_config(
        config_text(tmp_path, broker.port, 2, 1.0, f'command_key_file = "{key_file}"')
    )
    clock = SimClock()
    agent = Agent(cfg, clock, state_dir=tmp_path)
    stage = uplink_of(agent)
    rx = Receiver("127.0.0.1", broker.port, SITE)
    key = b"device-secret"
    try:
        assert rx.wait_for(lambda: rx.subscribed, 10)
        assert stage.link.wait_for(lambda: stage.link.connected, 10)
        step(agent, clock)
        fan_before = agent.actuators.state["fan"].value
        now = clock.now()
        base = f"edgetwin/v1/{SITE}/gw-1/cmd/"
        sent = [
            ("override", b"{not json", "malformed JSON"),
            (
                "reboot_now",
                command("reboot_now", "c2", now + 60, {}, key),
                "unknown command",
            ),
            (
                "override",
                command(
                    "override",
                    "c3",
                    now + 60,
                    {"actuator": "fan", "value": "hi", "duration_s": 5},
                    key,
                ),
                "bad body",
            ),
            (
                "override",
                command(
                    "override",
                    "c4",
                    now - 1,
                    {"actuator": "fan", "value": 0.2, "duration_s": 5},
                    key,
                ),
                "expired",
            ),
            (
                "override",
                command(
                    "override",
                    "c5",
                    now + 60,
                    {"actuator": "fan", "value": 0.2, "duration_s": 5},
                    b"wrong",
                ),
                "unauthorised: bad signature",
            ),
            (
                "override",
                command(
                    "override",
                    "c6",
                    now + 60,
                    {"actuator": "fan", "value": 0.2, "duration_s": 5},
                ),
                "unauthorised: signature missing",
            ),
            ("ping", command("ping", "c7", now + 60, {}, key), "pong"),
            ("ping", command("ping", "c7", now + 60, {}, key), "duplicate"),
            (
                "what_if",
                command("what_if", "c8", now + 60, {"horizon_s": 600}, key),
                "twin not configured",
            ),
        ]
        for name, payload, _ in sent:
            rx.client.publish(base + name, payload, qos=1).wait_for_publish(5)

        def results() -> list:
            return rx.of_kind("result")

        for _ in range(500):
            if rx.wait_for(lambda: len(results()) >= len(sent), 0.05):
                break
            step(agent, clock)
        got = results()
        assert len(got) == len(sent)
        for (name, _, why), r in zip(sent, got, strict=True):
            assert why in r.data["reason"], r.data
            assert r.topic == base + name + "/result"
            assert r.data["status"] == ("ok" if why == "pong" else "rejected")
        assert agent.actuators.state["fan"].value == fan_before
        assert not rx.invalid
    finally:
        agent.shutdown("test over")
        rx.close()


def test_schemas_reject_a_payload_without_the_envelope() -> None:
    assert schemas.problem("summary", {"window": {"start": 0, "end": 1}, "points": {}})
    assert schemas.kind_of_topic("edgetwin/v1/s/d/cmd/ping/result") == "result"
    assert schemas.kind_of_topic("edgetwin/v1/s/d/cmd/ping") is None
