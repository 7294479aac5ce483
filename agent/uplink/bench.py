"""Uplink figures: QoS 1 throughput, a day's backlog drain, outbox bytes per hour.

Everything runs against a mosquitto this module starts on a free loopback
port with a configuration in a temporary directory, and stops afterwards.
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.bench import SIGNALS
from agent.clock import PacedClock
from agent.config import parse_config
from agent.errors import CommandError
from agent.runtime import Agent, store_path
from agent.uplink.stage import UplinkStage

MOSQUITTO = "/usr/sbin/mosquitto"


class LocalBroker:
    """A mosquitto on a free loopback port; ``start``/``stop`` may repeat."""

    def __init__(self, workdir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            "persistence false\nlog_dest none\nmax_queued_messages 100000\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        path = shutil.which("mosquitto") or MOSQUITTO
        self.proc = subprocess.Popen([path, "-c", str(self.conf)])
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise CommandError(
                        f"bench uplink: mosquitto did not start on port {self.port}"
                    ) from None
                time.sleep(0.01)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@dataclass
class DrainResult:
    """One drain of the buffered backlog to the broker, live polling on."""

    rate_msgs_s: float
    inflight_max: int
    speed: float
    messages: int
    agent_s: float
    wall_s: float
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    work_p99_ms: float
    work_max_ms: float
    overruns: int

    def row(self) -> str:
        per_s = self.messages / max(1e-9, self.agent_s)
        return (
            f"{self.messages} messages in {self.agent_s:.1f} s ({per_s:.1f} msgs/s;"
            f" clock at {self.speed:g}x real time, {self.wall_s:.1f} s wall);"
            f" cycle lag p50 {self.lag_p50_ms:.1f} / p99 {self.lag_p99_ms:.1f} /"
            f" max {self.lag_max_ms:.1f} ms, cycle work p99 {self.work_p99_ms:.1f} /"
            f" max {self.work_max_ms:.1f} ms, {self.overruns} overruns"
        )


@dataclass
class UplinkResult:
    """What ``edgetwin bench uplink`` measured."""

    publish_msgs: int
    publish_msgs_per_s: float
    summary_bytes: float
    outbox_bytes_per_hour: float
    hours_buffered: float
    backlog_msgs: int
    configured: DrainResult
    fastest: DrainResult

    def rows(self) -> list[tuple[str, str]]:
        c, f = self.configured, self.fastest
        return [
            (
                "QoS 1 publish, PUBACKed",
                f"{self.publish_msgs_per_s:.0f} msgs/s ({self.publish_msgs} messages)",
            ),
            ("summary payload (50 points)", f"{self.summary_bytes:.0f} bytes"),
            ("outbox per buffered hour", f"{self.outbox_bytes_per_hour / 1e3:.1f} kB"),
            (
                "backlog",
                f"{self.backlog_msgs} messages after {self.hours_buffered:g} h offline",
            ),
            (
                f"drain at {c.rate_msgs_s:g} msgs/s, window {c.inflight_max}",
                c.row(),
            ),
            (
                f"drain unlimited, window {f.inflight_max}",
                f.row(),
            ),
            (
                "drain bound by the link alone",
                f"{self.backlog_msgs / max(1e-9, self.publish_msgs_per_s):.2f} s",
            ),
        ]


def publish_throughput(port: int, count: int, payload: bytes) -> float:
    """Messages per second published at QoS 1 until the last PUBACK."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="edgetwin-bench")
    client.max_inflight_messages_set(20)
    client.max_queued_messages_set(0)
    acked = 0
    done = time.monotonic()

    def on_publish(*_a: object) -> None:
        nonlocal acked, done
        acked += 1
        if acked == count:
            done = time.monotonic()

    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        t0 = time.monotonic()
        infos = [client.publish("bench/qos1", payload, qos=1) for _ in range(count)]
        infos[-1].wait_for_publish(60)
        while acked < count and time.monotonic() - t0 < 60:
            infos[-1].wait_for_publish(0.1)
        return count / max(1e-9, done - t0)
    finally:
        client.disconnect()
        client.loop_stop()


def _advance(agent: Agent, clock: PacedClock, duration_s: float) -> None:
    """Run the agent's cycles for ``duration_s`` of agent time."""
    end = clock.now() + duration_s
    while clock.now() < end:
        _step(agent, clock)


def _step(agent: Agent, clock: PacedClock) -> None:
    due = agent.sampler.next_due()
    clock.sleep_until(due)
    agent.cycle(due)


def _drain(
    agent: Agent, clock: PacedClock, speed: float, timeout_s: float = 900.0
) -> DrainResult:
    """Connect, then run the agent at ``speed`` times real time until the backlog is out.

    Agent time then flows with real time, so the broker's acknowledgements,
    the drain rate and the cycle's lag are measured in one time base; lags
    and work are reported in real milliseconds.
    """
    stage = next(s for s in agent.stages if isinstance(s, UplinkStage))
    if not stage.link.wait_for(lambda: stage.link.connected, 30):
        raise CommandError(f"bench uplink: no connection: {stage.link.last_error}")
    backlog = stage.outbox.size()[0]
    agent.stats.lags_s.clear()
    agent.stats.work_s.clear()
    overruns = agent.stats.overruns
    clock.pace(speed)
    w0, a0 = time.monotonic(), clock.now()
    while True:
        _step(agent, clock)
        if stage.outbox.backlog_done and stage.outbox.inflight == 0:
            break
        if time.monotonic() - w0 > timeout_s:
            raise CommandError(
                f"bench uplink: backlog did not drain in {timeout_s:g} s"
            )
    wall_s, agent_s = time.monotonic() - w0, clock.now() - a0
    clock.pace(None)
    stats = agent.stats.summary()
    cfg = stage.config
    return DrainResult(
        rate_msgs_s=cfg.backlog_rate_msgs_s,
        inflight_max=cfg.inflight_max,
        speed=speed,
        messages=backlog,
        agent_s=agent_s,
        wall_s=wall_s,
        lag_p50_ms=stats["lag_p50_ms"] / speed,
        lag_p99_ms=stats["lag_p99_ms"] / speed,
        lag_max_ms=stats["lag_max_ms"] / speed,
        work_p99_ms=stats["work_p99_ms"],
        work_max_ms=float(max(agent.stats.work_s, default=0.0)) * 1000,
        overruns=agent.stats.overruns - overruns,
    )


def _config_text(state_dir: str, port: int, points: int, window_s: float) -> str:
    lines = ["[site]", 'site = "bench"', 'device = "gw"', "[agent]"]
    lines += [f'state_dir = "{state_dir}"', "[[devices]]", 'name = "plant"']
    lines += ['kind = "sim"']
    for i in range(points):
        lines += ["[[points]]", f'name = "p{i:02d}"', 'device = "plant"']
        lines += [f'address = "{SIGNALS[i % len(SIGNALS)]}"', "period_s = 1.0"]
    lines += ["[uplink]", "enabled = true", f"port = {port}", f"window_s = {window_s}"]
    lines += ["reconnect_min_s = 0.05", "reconnect_max_s = 0.2"]
    return "\n".join(lines)


def uplink(
    hours_buffered: float = 24.0,
    publish_msgs: int = 5000,
    points: int = 50,
    speed: float = 10.0,
) -> UplinkResult:
    """Measure the uplink figures on the reference workload.

    The agent buffers ``hours_buffered`` with the broker down (simulated
    time, no waiting), then drains the backlog twice from the same copy of
    the database, on a clock at ``speed`` times real time: once at the
    configured drain rate and in-flight window, once with both at their
    maximum, the fastest this agent drains through the link. Each drain
    reports the cycle's lag and work while it ran.
    """
    with tempfile.TemporaryDirectory(prefix="edgetwin-bench-uplink-") as tmp:
        broker = LocalBroker(Path(tmp))
        config = parse_config(_config_text(tmp, broker.port, points, 60.0))
        clock = PacedClock(start=1_767_225_600.0)
        agent = Agent(config, clock, state_dir=tmp)
        stage = next(s for s in agent.stages if isinstance(s, UplinkStage))
        copy_dir = Path(tmp) / "copy"
        copy_dir.mkdir()
        try:
            # The broker is down: buffer ``hours_buffered`` of summaries.
            _advance(agent, clock, hours_buffered * 3600.0)
            agent.store.commit()
            rows, size = stage.outbox.size()
            summary_bytes = agent.store.conn.execute(
                "SELECT AVG(LENGTH(payload)) FROM outbox WHERE topic LIKE '%/summary'"
            ).fetchone()[0]
            payload = agent.store.conn.execute(
                "SELECT payload FROM outbox LIMIT 1"
            ).fetchone()
            with sqlite3.connect(store_path(config, copy_dir)) as copy:
                agent.store.conn.backup(copy)
            broker.start()
            configured = _drain(agent, clock, speed)
        finally:
            agent.shutdown("bench over")
        try:
            up = config.uplink
            fast = replace(
                config,
                uplink=replace(up, backlog_rate_msgs_s=10_000.0, inflight_max=1000),
            )
            agent = Agent(fast, clock, state_dir=copy_dir)
            try:
                fastest = _drain(agent, clock, 1.0)
            finally:
                agent.shutdown("bench over")
            rate = publish_throughput(
                broker.port, publish_msgs, payload[0] if payload else b"x" * 4000
            )
        finally:
            broker.stop()
    return UplinkResult(
        publish_msgs=publish_msgs,
        publish_msgs_per_s=rate,
        summary_bytes=float(summary_bytes or 0.0),
        outbox_bytes_per_hour=size / hours_buffered,
        hours_buffered=hours_buffered,
        backlog_msgs=rows,
        configured=configured,
        fastest=fastest,
    )
