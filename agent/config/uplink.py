"""Configuration of the MQTT uplink: its frozen dataclass and its parser.

The ``[uplink]`` section::

    [uplink]
    enabled = true
    host = "broker.example.net"
    port = 8883
    protocol = "5"                  # or "3.1.1"
    tls = true
    ca_file = "/etc/edgetwin/ca.pem"
    cert_file = ""                  # client certificate, optional
    key_file = ""
    username = "cabinet-01"
    password_file = "/etc/edgetwin/mqtt.secret"   # the secret lives apart
    window_s = 60                   # one summary per window
    backlog_rate_msgs_s = 20        # drain after an outage; at most inflight_max / 2
    inflight_max = 20               #   messages per agent cycle
    outbox_max_mb = 64              # the offline buffer's bounds
    outbox_max_age_days = 7
    command_key_file = ""           # set to require HMAC-SHA256 signed commands
    config_trial_s = 300            # a pushed configuration must connect within this
    stop_flush_s = 2                # on a clean stop, wait this long for acknowledgements
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.config.checker import Table


@dataclass(frozen=True)
class UplinkConfig:
    """The MQTT uplink; ``enabled = false`` keeps everything local.

    Times are in seconds unless the name says otherwise. ``client_id`` empty
    means ``edgetwin-{site}-{device}``, stable across restarts.
    """

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 1883
    protocol: str = "3.1.1"
    client_id: str = ""
    keepalive_s: float = 30.0
    username: str = ""
    password_file: str = ""
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 120.0
    window_s: float = 60.0
    inflight_max: int = 20
    backlog_rate_msgs_s: float = 20.0
    outbox_max_mb: float = 64.0
    outbox_max_age_days: float = 7.0
    outbox_check_interval_s: float = 60.0
    max_message_bytes: int = 262_144
    ack_delete_interval_s: float = 60.0
    command_key_file: str = ""
    command_max_ttl_s: float = 3600.0
    override_max_s: float = 3600.0
    config_trial_s: float = 300.0
    stop_flush_s: float = 2.0
    topic_prefix: str = "edgetwin/v1"


def parse_uplink(t: Table) -> UplinkConfig:
    d = UplinkConfig
    cfg = UplinkConfig(
        enabled=t.bool("enabled", False),
        host=t.str("host", d.host),
        port=t.int("port", d.port, min=1, max=65535),
        protocol=t.str("protocol", d.protocol, choices=("3.1.1", "5")),
        client_id=t.str("client_id", d.client_id),
        keepalive_s=t.number("keepalive_s", d.keepalive_s, min=5, max=3600, unit="s"),
        username=t.str("username", d.username),
        password_file=t.str("password_file", d.password_file),
        tls=t.bool("tls", d.tls),
        ca_file=t.str("ca_file", d.ca_file),
        cert_file=t.str("cert_file", d.cert_file),
        key_file=t.str("key_file", d.key_file),
        reconnect_min_s=t.number(
            "reconnect_min_s", d.reconnect_min_s, min=0.01, max=600, unit="s"
        ),
        reconnect_max_s=t.number(
            "reconnect_max_s", d.reconnect_max_s, min=0.01, max=3600, unit="s"
        ),
        window_s=t.number("window_s", d.window_s, min=1, max=86400, unit="s"),
        inflight_max=t.int("inflight_max", d.inflight_max, min=1, max=1000),
        backlog_rate_msgs_s=t.number(
            "backlog_rate_msgs_s", d.backlog_rate_msgs_s, min=0.1, max=10_000
        ),
        outbox_max_mb=t.number(
            "outbox_max_mb", d.outbox_max_mb, min=0.01, max=1e5, unit="MB"
        ),
        outbox_max_age_days=t.number(
            "outbox_max_age_days", d.outbox_max_age_days, min=0.001, max=3650
        ),
        outbox_check_interval_s=t.number(
            "outbox_check_interval_s", d.outbox_check_interval_s, min=1, max=86400
        ),
        max_message_bytes=t.int(
            "max_message_bytes", d.max_message_bytes, min=1024, max=268_435_455
        ),
        ack_delete_interval_s=t.number(
            "ack_delete_interval_s", d.ack_delete_interval_s, min=0, max=3600
        ),
        command_key_file=t.str("command_key_file", d.command_key_file),
        command_max_ttl_s=t.number(
            "command_max_ttl_s", d.command_max_ttl_s, min=1, max=86400 * 7
        ),
        override_max_s=t.number("override_max_s", d.override_max_s, min=1, max=86400),
        config_trial_s=t.number(
            "config_trial_s", d.config_trial_s, min=1, max=86400, unit="s"
        ),
        stop_flush_s=t.number("stop_flush_s", d.stop_flush_s, min=0, max=60, unit="s"),
        topic_prefix=t.str("topic_prefix", d.topic_prefix),
    )

    # Cross-field checks.
    if cfg.reconnect_min_s > cfg.reconnect_max_s:
        t.error(
            "reconnect_max_s",
            f"{cfg.reconnect_max_s:g} must be at least reconnect_min_s "
            f"{cfg.reconnect_min_s:g}",
        )
    if cfg.enabled and cfg.tls and not cfg.ca_file:
        t.error("ca_file", "is required when tls = true")
    if bool(cfg.cert_file) != bool(cfg.key_file):
        t.error("key_file", "cert_file and key_file go together (set both or neither)")
    for key in (
        "password_file",
        "ca_file",
        "cert_file",
        "key_file",
        "command_key_file",
    ):
        value = getattr(cfg, key)
        if cfg.enabled and value and not Path(value).is_file():
            t.error(key, f"{value!r} is not a readable file")
    if cfg.password_file and not cfg.username:
        t.error("username", "is required when password_file is set")
    t.finish()
    return cfg
