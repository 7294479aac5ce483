"""The site configuration: one TOML file, validated into immutable objects."""

from __future__ import annotations

from importlib.resources import files

from agent.config.load import DEFAULT_PATH, load_config, parse_config
from agent.config.schema import (
    ActuatorConfig,
    Config,
    DeviceConfig,
    PointConfig,
    StoreConfig,
)


def default_text() -> str:
    """Return the commented starting configuration (the simulated plant)."""
    return files("agent.config").joinpath("default.toml").read_text(encoding="utf-8")


def default_config() -> Config:
    """Return the embedded default configuration."""
    return parse_config(default_text(), "<built-in default>")


__all__ = [
    "DEFAULT_PATH",
    "ActuatorConfig",
    "Config",
    "DeviceConfig",
    "PointConfig",
    "StoreConfig",
    "default_config",
    "default_text",
    "load_config",
    "parse_config",
]
