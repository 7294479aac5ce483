"""Configuration of the controller: its frozen dataclass and its parser."""

from __future__ import annotations

from dataclasses import dataclass

from agent.config.checker import Table


@dataclass(frozen=True)
class ControlConfig:
    """Automatic actuator control; ``enabled = false`` leaves outputs alone."""

    enabled: bool = False


def parse_control(t: Table) -> ControlConfig:
    cfg = ControlConfig(enabled=t.bool("enabled", False))
    t.finish()
    return cfg
