"""Configuration sections for the twin, the model, control and the uplink.

Each section has a frozen dataclass and a parser that reads it from a
``Table``; the loader calls the parsers and stores what they return.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.config.checker import Table


@dataclass(frozen=True)
class TwinConfig:
    """The digital twin; ``kind = "none"`` passes readings through."""

    kind: str = "none"


def parse_twin(t: Table) -> TwinConfig:
    cfg = TwinConfig(kind=t.str("kind", "none", choices=("none",)))
    t.finish()
    return cfg


@dataclass(frozen=True)
class ModelConfig:
    """The anomaly model; ``enabled = false`` scores nothing."""

    enabled: bool = False


def parse_model(t: Table) -> ModelConfig:
    cfg = ModelConfig(enabled=t.bool("enabled", False))
    t.finish()
    return cfg


@dataclass(frozen=True)
class ControlConfig:
    """Automatic actuator control; ``enabled = false`` leaves outputs alone."""

    enabled: bool = False


def parse_control(t: Table) -> ControlConfig:
    cfg = ControlConfig(enabled=t.bool("enabled", False))
    t.finish()
    return cfg


@dataclass(frozen=True)
class UplinkConfig:
    """The MQTT uplink; ``enabled = false`` keeps everything local."""

    enabled: bool = False


def parse_uplink(t: Table) -> UplinkConfig:
    cfg = UplinkConfig(enabled=t.bool("enabled", False))
    t.finish()
    return cfg
