"""Messages stored before the broker's limit was known are re-split before sending.

Under MQTT 5 the agent learns the broker's maximum packet size from the
CONNACK. What it queued while it had never connected was sized against the
default limit; the outbox replaces each such message by parts that fit.
"""

from __future__ import annotations

import json
from pathlib import Path

from agent.clock import SimClock
from agent.config import parse_config
from agent.runtime import Agent
from agent.uplink.envelope import PRIORITY_EVENT, dumps
from agent.uplink.listen import Receiver
from tests.mqtt_broker import Broker
from tests.test_uplink_flow import SITE, config_text, step, uplink_of

LIMIT_BYTES = 2000


def test_summaries_queued_before_the_first_connect_arrive_in_parts_that_fit(
    tmp_path: Path,
) -> None:
    points = [f"p{i:02d}" for i in range(60)]
    broker = Broker(tmp_path / "broker", extra=f"max_packet_size {LIMIT_BYTES}\n")
    cfg = parse_config(
        config_text(tmp_path, broker.port, len(points), 1.0, 'protocol = "5"')
    )
    clock = SimClock()
    agent = Agent(cfg, clock, state_dir=tmp_path)
    stage = uplink_of(agent)
    outbox = stage.outbox
    rx: Receiver | None = None
    try:
        # The broker is down: four windows of 60 points are stored whole.
        for _ in range(41):
            step(agent, clock)
        assert not stage.link.connected and stage.link.max_packet_bytes is None
        # An event that has no mapping to split along, also above the broker's limit.
        outbox.add(
            clock.now(),
            "event",
            PRIORITY_EVENT,
            {
                "kind": "note",
                "severity": "info",
                "source": "test",
                "message": "x" * (2 * LIMIT_BYTES),
                "event_ts": clock.now(),
                "data": {},
            },
        )
        agent.store.commit()
        stored = {
            seq: json.loads(payload)
            for seq, payload in agent.store.conn.execute(
                "SELECT seq, payload FROM outbox WHERE topic LIKE '%/summary'"
            )
        }
        windows = sorted(d["window"]["start"] for d in stored.values())
        assert len(windows) >= 4
        assert all(set(d["points"]) == set(points) for d in stored.values())
        assert min(len(p) for p in map(dumps, stored.values())) > LIMIT_BYTES
        big_event_seq = outbox.seq.next - 1

        broker.start()
        rx = Receiver("127.0.0.1", broker.port, SITE)
        assert rx.wait_for(lambda: rx.subscribed, 10)
        assert stage.link.wait_for(lambda: stage.link.connected, 10)
        assert stage.link.max_packet_bytes == LIMIT_BYTES

        def parts_of(start: float) -> list[dict]:
            return [
                m.data
                for m in rx.of_kind("summary")
                if m.data["historical"] and m.data["window"]["start"] == start
            ]

        def stored_windows_arrived() -> bool:
            for start in windows:
                got = parts_of(start)
                if not got or len(got) < got[0]["part"]["count"]:
                    return False
            return True

        def dropped_reported() -> bool:
            return any(m.data["kind"] == "data_dropped" for m in rx.of_kind("event"))

        for _ in range(200):
            if rx.wait_for(
                lambda: stored_windows_arrived() and dropped_reported(), 0.02
            ):
                break
            step(agent, clock)
        assert stored_windows_arrived() and dropped_reported()

        # The outbox drains: every row the broker acknowledged is deleted.
        for _ in range(200):
            if outbox.backlog_done and outbox.inflight == 0:
                break
            stage.link.wait_for(lambda: outbox.inflight == 0, 0.02)
            step(agent, clock)
        assert outbox.backlog_done and outbox.inflight == 0
        agent.store.commit()
        outbox.flush_acked(clock.now())
        assert outbox.size()[0] == 0

        # One connection: no message made the broker drop it.
        assert stage.link.stats.connects == 1
        assert stage.link.stats.disconnects == 0
        assert agent.stats.stage_errors == 0
    finally:
        agent.shutdown("test over")
        if rx is not None:
            rx.close()
        broker.stop()

    assert not rx.invalid
    for start in windows:
        got = parts_of(start)
        count = got[0]["part"]["count"]
        assert count >= 3
        assert [d["part"] for d in got] == [
            {"index": i, "count": count} for i in range(count)
        ]
        seqs = [d["seq"] for d in got]
        assert seqs == sorted(seqs) and min(seqs) > max(stored)
        names = [name for d in got for name in d["points"]]
        assert sorted(names) == points  # every point, each once
        assert all(d["points"][p]["n"] == 10 for d in got for p in d["points"])
    # The whole messages were replaced, never sent.
    received = {m.data["seq"] for m in rx.messages}
    assert not received & (set(stored) | {big_event_seq})
    # The historical summaries keep their sequence order.
    hist = [m.data["seq"] for m in rx.of_kind("summary") if m.data["historical"]]
    assert hist == sorted(hist)
    # The event that could not be split is reported dropped, once.
    drops = [m.data for m in rx.of_kind("event") if m.data["kind"] == "data_dropped"]
    assert [d["data"]["reason"] for d in drops] == ["too_large"]
    assert drops[0]["data"]["messages"] == 1
    assert max(len(m.topic) + len(dumps(m.data)) for m in rx.messages) < LIMIT_BYTES
