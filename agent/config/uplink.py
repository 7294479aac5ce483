"""Configuration of the MQTT uplink: its frozen dataclass and its parser."""

from __future__ import annotations

from dataclasses import dataclass

from agent.config.checker import Table


@dataclass(frozen=True)
class UplinkConfig:
    """The MQTT uplink; ``enabled = false`` keeps everything local."""

    enabled: bool = False


def parse_uplink(t: Table) -> UplinkConfig:
    cfg = UplinkConfig(enabled=t.bool("enabled", False))
    t.finish()
    return cfg
