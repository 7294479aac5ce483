"""Upstream commands reach the controller and the twin of a running agent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent.clock import SimClock
from agent.config import parse_config
from agent.runtime import Agent
from agent.uplink.listen import Receiver
from tests.mqtt_broker import Broker
from tests.test_uplink_flow import command, step, uplink_of

SITE = "plant-w"


def config(state_dir: Path, port: int) -> str:
    return f"""
[site]
site = "{SITE}"
device = "gw-1"
[agent]
state_dir = "{state_dir}"
[[devices]]
name = "plant"
kind = "sim"
[[points]]
name = "cabinet_temp_c"
device = "plant"
address = "cabinet_temp_c"
period_s = 10
[[points]]
name = "ambient_temp_c"
device = "plant"
address = "ambient_temp_c"
period_s = 10
[[points]]
name = "power_w"
device = "plant"
address = "power_w"
period_s = 10
[[actuators]]
name = "heater"
device = "plant"
address = "heater"
[[actuators]]
name = "fan"
device = "plant"
address = "fan"
kind = "analog"
safe_value = 1
[twin]
kind = "thermal"
[twin.thermal]
temperature = "cabinet_temp_c"
ambient = "ambient_temp_c"
power = "power_w"
heater = "heater"
fan = "fan"
[control]
enabled = true
[control.policies.fan]
kind = "hysteresis"
point = "cabinet_temp_c"
on_at = 30
off_at = 25
[uplink]
enabled = true
port = {port}
window_s = 60
reconnect_min_s = 0.5
reconnect_max_s = 1.0
"""


@pytest.fixture
def broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Broker(tmp_path / "broker") as b:
        yield b


def test_override_goes_through_the_controller_and_what_if_to_the_twin(
    tmp_path: Path, broker: Broker
) -> None:
    clock = SimClock()
    agent = Agent(
        parse_config(config(tmp_path, broker.port)), clock, state_dir=tmp_path
    )
    stage = uplink_of(agent)
    rx = Receiver("127.0.0.1", broker.port, SITE)
    try:
        assert rx.wait_for(lambda: rx.subscribed, 10)
        assert stage.link.wait_for(lambda: stage.link.connected, 10)
        for _ in range(60):  # ten minutes of readings for the twin
            step(agent, clock)
        now = clock.now()
        base = f"edgetwin/v1/{SITE}/gw-1/cmd/"
        body = {"actuator": "fan", "value": 0.3, "duration_s": 300, "who": "ops"}
        rx.client.publish(
            base + "override", command("override", "o1", now + 600, body), qos=1
        ).wait_for_publish(5)
        rx.client.publish(
            base + "what_if",
            command(
                "what_if", "w1", now + 600, {"inputs": {"fan": 0}, "horizon_s": 1800}
            ),
            qos=1,
        ).wait_for_publish(5)

        deadline = time.monotonic() + 20
        while len(rx.of_kind("result")) < 2 and time.monotonic() < deadline:
            rx.wait_for(lambda: len(rx.of_kind("result")) >= 2, 0.05)
            step(agent, clock)
        results = {r.data["id"]: r.data for r in rx.of_kind("result")}
        assert results["o1"]["status"] == "ok"
        assert "by ops" in results["o1"]["reason"]
        forecast = results["w1"]
        assert forecast["status"] == "ok"
        series = forecast["result"]["series"]["cabinet_temp_c"]
        assert len(series) == len(forecast["result"]["times_s"]) == 31

        # The controller applies the override, records who asked, then lets go.
        for _ in range(40):
            step(agent, clock)
        acts = agent.store.conn.execute(
            "SELECT source, reason, value FROM actuations WHERE actuator = 'fan'"
            " ORDER BY id"
        ).fetchall()
        held = [a for a in acts if a[0] == "override"]
        assert held and held[0][1] == "manual override by ops"
        assert held[0][2] == pytest.approx(0.3)
        after = acts[acts.index(held[0]) + 1 :]
        assert after and after[0][0] == "policy", acts  # the policy takes back over
        ends = agent.store.conn.execute(
            "SELECT message FROM events WHERE kind = 'override_end'"
        ).fetchall()
        assert ends == [("override of fan by ops expired",)]
    finally:
        agent.shutdown("test over")
        rx.close()
