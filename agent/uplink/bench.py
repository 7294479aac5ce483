"""Uplink figures: QoS 1 throughput, a day's backlog drain, outbox bytes per hour.

Everything runs against a mosquitto this module starts on a free loopback
port with a configuration in a temporary directory, and stops afterwards.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.bench import SIGNALS
from agent.clock import SimClock
from agent.config import parse_config
from agent.errors import CommandError
from agent.runtime import Agent
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
class UplinkResult:
    """What ``edgetwin bench uplink`` measured."""

    publish_msgs: int
    publish_msgs_per_s: float
    summary_bytes: float
    outbox_bytes_per_hour: float
    backlog_msgs: int
    drain_wall_s: float
    drain_agent_s: float
    backlog_rate_msgs_s: float

    def rows(self) -> list[tuple[str, str]]:
        return [
            (
                "QoS 1 publish, PUBACKed",
                f"{self.publish_msgs_per_s:.0f} msgs/s ({self.publish_msgs} messages)",
            ),
            ("summary payload (50 points)", f"{self.summary_bytes:.0f} bytes"),
            ("outbox per buffered hour", f"{self.outbox_bytes_per_hour / 1e3:.1f} kB"),
            (
                "day's backlog drain",
                f"{self.backlog_msgs} messages: {self.drain_agent_s:.0f} s agent time"
                f" at {self.backlog_rate_msgs_s:g} msgs/s, {self.drain_wall_s:.1f} s"
                " wall (simulated clock, live polling on)",
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


def _advance(agent: Agent, clock: SimClock, duration_s: float) -> None:
    """Run the agent's cycles for ``duration_s`` of simulated time."""
    end = clock.now() + duration_s
    while clock.now() < end:
        due = agent.sampler.next_due()
        clock.sleep_until(due)
        agent.cycle(due)


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
    hours_buffered: float = 24.0, publish_msgs: int = 5000, points: int = 50
) -> UplinkResult:
    """Measure the three uplink figures on the reference workload."""
    with tempfile.TemporaryDirectory(prefix="edgetwin-bench-uplink-") as tmp:
        broker = LocalBroker(Path(tmp))
        config = parse_config(_config_text(tmp, broker.port, points, 60.0))
        clock = SimClock(start=1_767_225_600.0)
        agent = Agent(config, clock, state_dir=tmp)
        stage = next(s for s in agent.stages if isinstance(s, UplinkStage))
        try:
            # The broker is down: buffer ``hours_buffered`` of summaries.
            _advance(agent, clock, hours_buffered * 3600.0)
            agent.store.commit()
            rows, size = stage.outbox.size()
            summary_bytes = agent.store.conn.execute(
                "SELECT AVG(LENGTH(payload)) FROM outbox WHERE topic LIKE '%/summary'"
            ).fetchone()[0]
            broker.start()
            stage.link.wait_for(lambda: stage.link.connected, 30)
            w0, a0 = time.monotonic(), clock.now()
            while not (stage.outbox.backlog_done and stage.outbox.inflight == 0):
                _advance(agent, clock, 1.0)
                if time.monotonic() - w0 > 600:
                    raise CommandError("bench uplink: backlog did not drain in 600 s")
            drain_wall, drain_agent = time.monotonic() - w0, clock.now() - a0
            payload = agent.store.conn.execute(
                "SELECT payload FROM outbox LIMIT 1"
            ).fetchone()
            rate = publish_throughput(
                broker.port, publish_msgs, payload[0] if payload else b"x" * 4000
            )
        finally:
            agent.shutdown("bench over")
            broker.stop()
    return UplinkResult(
        publish_msgs=publish_msgs,
        publish_msgs_per_s=rate,
        summary_bytes=float(summary_bytes or 0.0),
        outbox_bytes_per_hour=size / hours_buffered,
        backlog_msgs=rows,
        drain_wall_s=drain_wall,
        drain_agent_s=drain_agent,
        backlog_rate_msgs_s=config.uplink.backlog_rate_msgs_s,
    )
