"""Configuration of the anomaly model: its frozen dataclass and its parser."""

from __future__ import annotations

from dataclasses import dataclass

from agent.config.checker import Table


@dataclass(frozen=True)
class ModelConfig:
    """The anomaly model; ``enabled = false`` scores nothing."""

    enabled: bool = False


def parse_model(t: Table) -> ModelConfig:
    cfg = ModelConfig(enabled=t.bool("enabled", False))
    t.finish()
    return cfg
