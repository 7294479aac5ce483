"""The sections that later stages own, gathered for the loader."""

from agent.config.control import ControlConfig, parse_control
from agent.config.model import ModelConfig, parse_model
from agent.config.twin import TwinConfig, parse_twin
from agent.config.uplink import UplinkConfig, parse_uplink

__all__ = [
    "ControlConfig",
    "ModelConfig",
    "TwinConfig",
    "UplinkConfig",
    "parse_control",
    "parse_model",
    "parse_twin",
    "parse_uplink",
]
