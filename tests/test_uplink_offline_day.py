"""A day without the broker: the outbox keeps its cap, then drains beside live summaries.

The offline day runs the reference workload's 50 points on a clock that
jumps from deadline to deadline, polled every 10 s instead of every second
so that the day takes seconds: the outbox holds one summary of all 50
points per window either way, so its content, size and bound are those of
the 1 Hz workload. The drain runs the reference workload itself (50 points
at 1 Hz) on a clock paced at a fixed multiple of real time, so that the
broker's acknowledgements, the drain rate and the summary windows share one
time base.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

from agent.bench import reference_config
from agent.clock import PacedClock
from agent.config import Config
from agent.config.schema import SiteConfig
from agent.config.uplink import UplinkConfig
from agent.runtime import Agent
from agent.store.outbox import ROW_OVERHEAD_BYTES
from agent.uplink.listen import Received, Receiver
from agent.uplink.stage import UplinkStage
from tests.mqtt_broker import Broker

SITE = "plant-day"
WINDOW_S = 60.0
CAP_MB = 0.5
DRAIN_RATE_MSGS_S = 0.5
SPEED = 50.0  # agent seconds per real second while draining


def day_config(state_dir: Path, port: int, period_s: float) -> Config:
    base = reference_config(str(state_dir), points=50, period_s=period_s)
    uplink = UplinkConfig(
        enabled=True,
        port=port,
        window_s=WINDOW_S,
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
        outbox_max_mb=CAP_MB,
        outbox_check_interval_s=WINDOW_S,
        backlog_rate_msgs_s=DRAIN_RATE_MSGS_S,
        ack_delete_interval_s=10.0,
    )
    return dataclasses.replace(
        base, site=SiteConfig(site=SITE, device="gw-day"), uplink=uplink
    )


def uplink_of(agent: Agent) -> UplinkStage:
    stage = next(s for s in agent.stages if s.name == "uplink")
    assert isinstance(stage, UplinkStage)
    return stage


def step(agent: Agent, clock: PacedClock) -> None:
    due = agent.sampler.next_due()
    clock.sleep_until(due)
    agent.cycle(due)


def test_a_day_offline_stays_within_the_cap_and_drains_beside_live_summaries(
    tmp_path: Path,
) -> None:
    broker = Broker(tmp_path / "broker")  # its port is reserved; not started yet
    clock = PacedClock()
    cap_bytes = int(CAP_MB * 1e6)

    # -- the offline day ---------------------------------------------------------
    day = Agent(day_config(tmp_path, broker.port, 10.0), clock, state_dir=tmp_path)
    stage = uplink_of(day)
    peak = 0
    measured = (-1, -1)
    try:
        end = clock.now() + 86_400.0
        while clock.now() < end:
            step(day, clock)
            # The outbox grows only when queued rows are committed: measure then.
            mark = (stage.outbox.stats.queued, day.store.stats.commits)
            if mark[0] != measured[0] and mark[1] != measured[1]:
                measured = mark
                peak = max(peak, stage.outbox.size()[1])
        assert not stage.link.connected
        (largest,) = day.store.conn.execute(
            "SELECT MAX(LENGTH(payload)) FROM outbox"
        ).fetchone()
    finally:
        day.shutdown("end of the offline day")
    queued = stage.outbox.stats.queued
    dropped = stage.outbox.stats.dropped
    assert set(dropped) == {"size"}, dropped
    assert dropped["size"] > 1000  # a day is about 1440 summaries
    # The cap is checked once per window: between two checks the outbox can
    # pass it by at most what one window adds (a summary and an event).
    assert cap_bytes < peak <= cap_bytes + 2 * (largest + ROW_OVERHEAD_BYTES)

    # -- the broker returns; the reference workload runs on ---------------------
    live = Agent(day_config(tmp_path, broker.port, 1.0), clock, state_dir=tmp_path)
    stage = uplink_of(live)
    backlog = {s for (s,) in live.store.conn.execute("SELECT seq FROM outbox")}
    _, size_now = stage.outbox.size()
    assert size_now <= cap_bytes
    assert queued == len(backlog) + dropped["size"]  # every message is accounted for

    arrived_at: dict[int, float] = {}

    def stamp(m: Received) -> None:
        arrived_at[int(m.data["seq"])] = clock.now()

    broker.start()
    rx = Receiver("127.0.0.1", broker.port, SITE, on_message=stamp)
    try:
        assert rx.wait_for(lambda: rx.subscribed, 10)
        assert stage.link.wait_for(lambda: stage.link.connected, 10)
        clock.pace(SPEED)
        start = clock.now()

        def drained() -> bool:
            with rx.changed:
                got = {m.data["seq"] for m in rx.messages}
            return backlog <= got

        # Expected: len(backlog) / DRAIN_RATE_MSGS_S agent seconds; bounded at 3x.
        limit = start + 3 * len(backlog) / DRAIN_RATE_MSGS_S
        while not drained() and clock.now() < limit:
            step(live, clock)
        assert drained()
        # One more window: live summaries go on after the drain too.
        drained_at = clock.now()
        until = drained_at + WINDOW_S + 2
        while clock.now() < until:
            step(live, clock)

        def closed_after_drain() -> bool:
            with rx.changed:
                return any(
                    m.kind == "summary"
                    and not m.data["historical"]
                    and m.data["window"]["end"] >= drained_at
                    for m in rx.messages
                )

        assert rx.wait_for(closed_after_drain, 10)
    finally:
        live.shutdown("test over")
        rx.close()
        broker.stop()

    assert not rx.invalid, rx.invalid[:3]
    msgs = [m for m in rx.messages if m.kind != "status"]
    by_seq = {m.data["seq"]: m for m in msgs}

    # Every message still in the outbox at reconnect arrived, marked historical.
    assert all(by_seq[s].data["historical"] for s in backlog)
    # The drops were reported upstream: data_dropped events count every one.
    reports = [
        m.data for m in msgs if m.kind == "event" and m.data["kind"] == "data_dropped"
    ]
    assert sum(r["data"]["messages"] for r in reports) == dropped["size"]

    # Live summaries kept their period while the backlog drained: every
    # window present, each one published as it closed, in sequence order.
    order = [m.data["seq"] for m in msgs]
    live_summaries = [
        m.data
        for m in msgs
        if m.kind == "summary"
        and not m.data["historical"]
        and m.data["boot"] == live.boot_id
    ]
    windows = [(s["window"]["start"], s["window"]["end"]) for s in live_summaries]
    assert len(windows) >= 6
    for (a0, a1), (b0, _) in itertools.pairwise(windows):
        assert a1 - a0 == WINDOW_S and b0 == a1, windows
    seqs = [s["seq"] for s in live_summaries]
    assert seqs == sorted(seqs)
    for s in live_summaries[1:]:  # the first window began before the broker was up
        assert (
            s["window"]["end"] <= arrived_at[s["seq"]] < s["window"]["end"] + WINDOW_S
        )
    last_historical = max(order.index(s) for s in backlog)
    during = [s for s in seqs if order.index(s) < last_historical]
    # About seven windows close during a drain of ~200 messages at 0.5 per second.
    assert len(during) >= 5, (len(during), len(backlog))
    # Read back at the drain rate: the drain took about backlog / rate.
    drain_s = max(arrived_at[s] for s in backlog) - start
    assert drain_s >= 0.8 * len(backlog) / DRAIN_RATE_MSGS_S
