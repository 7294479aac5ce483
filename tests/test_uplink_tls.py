"""TLS against a mosquitto with a test CA: connect when the certificate fits, refuse otherwise."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.clock import SimClock
from agent.config import parse_config
from agent.runtime import Agent
from agent.uplink.listen import Receiver
from tests.mqtt_broker import Broker, free_port, make_tls
from tests.test_uplink_flow import SITE, config_text, step, uplink_of


def tls_broker(workdir: Path, cert: dict[str, Path], plain_port: int) -> Broker:
    """TLS on the broker's port; a plain listener on ``plain_port`` for the receiver."""
    extra = (
        f"certfile {cert['cert']}\n"
        f"keyfile {cert['key']}\n"
        f"listener {plain_port} 127.0.0.1\n"
    )
    return Broker(workdir, extra=extra)


def tls_agent(tmp_path: Path, port: int, ca: Path) -> Agent:
    extra = f'host = "127.0.0.1"\ntls = true\nca_file = "{ca}"'
    cfg = parse_config(config_text(tmp_path, port, 1, 1.0, extra))
    return Agent(cfg, SimClock(), state_dir=tmp_path)


def test_agent_publishes_over_tls_to_a_broker_with_the_test_ca(
    tmp_path: Path,
) -> None:
    cert = make_tls(tmp_path / "ca")
    plain = free_port()
    with tls_broker(tmp_path / "broker", cert, plain) as broker:
        broker.wait_port(plain)
        rx = Receiver("127.0.0.1", plain, SITE)
        agent = tls_agent(tmp_path, broker.port, cert["ca"])
        stage = uplink_of(agent)
        clock = agent.clock
        assert isinstance(clock, SimClock)
        try:
            assert rx.wait_for(lambda: rx.subscribed, 10)
            assert stage.link.wait_for(lambda: stage.link.connected, 10)
            for _ in range(300):
                if rx.wait_for(lambda: bool(rx.of_kind("summary")), 0.01):
                    break
                step(agent, clock)
            assert rx.of_kind("summary")
            online = [m for m in rx.of_kind("status") if m.data["state"] == "online"]
            assert online
        finally:
            agent.shutdown("test over")
            rx.close()
    assert not rx.invalid


@pytest.mark.parametrize(
    ("case", "why"),
    [
        (
            "wrong hostname",
            "TLS: server certificate rejected: IP address mismatch, certificate is"
            " not valid for '127.0.0.1'.",
        ),
        (
            "other CA",
            "TLS: server certificate rejected: unable to get local issuer certificate",
        ),
    ],
)
def test_agent_refuses_a_server_certificate_that_does_not_match(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, case: str, why: str
) -> None:
    if case == "wrong hostname":
        served = make_tls(tmp_path / "ca", server_name="other.example", ip="127.0.0.9")
        trusted = served["ca"]
    else:
        served = make_tls(tmp_path / "ca")
        trusted = make_tls(tmp_path / "other-ca")["ca"]
    caplog.set_level(logging.WARNING, logger="agent.uplink.link")
    with tls_broker(tmp_path / "broker", served, free_port()) as broker:
        agent = tls_agent(tmp_path, broker.port, trusted)
        link = uplink_of(agent).link
        try:
            assert link.wait_for(lambda: link.stats.connect_failures >= 3, 15)
            assert link.stats.connects == 0
            assert not link.connected
        finally:
            agent.shutdown("test over")
    lines = [r.getMessage() for r in caplog.records if r.name == "agent.uplink.link"]
    # Logged once when the outage starts, not once per attempt.
    assert lines == [
        f"MQTT broker 127.0.0.1:{broker.port} is unreachable: {why};"
        " retrying with backoff"
    ]
