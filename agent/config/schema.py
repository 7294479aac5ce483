"""The typed, immutable configuration that the rest of the agent reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from agent.config.sections import (
    ControlConfig,
    ModelConfig,
    TwinConfig,
    UplinkConfig,
)

EMPTY: MappingProxyType[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class SiteConfig:
    """Who this agent is: ``site`` and ``device`` name its MQTT topics."""

    site: str = "demo-site"
    device: str = "cabinet-01"
    description: str = ""


@dataclass(frozen=True)
class DeviceConfig:
    """A device on a bus; ``options`` is the driver's own typed settings."""

    name: str
    kind: str
    timeout_s: float = 1.0
    retries: int = 1
    options: Any = None


@dataclass(frozen=True)
class PointConfig:
    """One measured value: where to read it, how often, and what is plausible.

    ``address`` is the driver's typed address. The engineering value is
    ``raw * scale + offset``; values outside ``valid_min`` to ``valid_max``
    are kept with an out-of-range quality.
    """

    name: str
    device: str
    address: Any
    unit: str = ""
    period_s: float = 1.0
    scale: float = 1.0
    offset: float = 0.0
    valid_min: float = float("-inf")
    valid_max: float = float("inf")
    description: str = ""


@dataclass(frozen=True)
class ActuatorConfig:
    """An output the agent may drive; ``safe_value`` is where it goes on stop."""

    name: str
    device: str
    address: Any
    kind: Literal["binary", "analog"] = "binary"
    unit: str = ""
    min: float = 0.0
    max: float = 1.0
    safe_value: float = 0.0
    envelope: Any = None
    description: str = ""


@dataclass(frozen=True)
class StoreConfig:
    """The SQLite buffer: where it lives, how often it commits, how big it may get."""

    path: str = "edgetwin.db"
    commit_interval_s: float = 5.0
    max_size_mb: float = 1024.0
    max_age_days: float = 30.0
    retention_interval_s: float = 300.0


@dataclass(frozen=True)
class AgentConfig:
    """Process-wide settings."""

    state_dir: str = "/var/lib/edgetwin"
    cycle_s: float = 0.1


@dataclass(frozen=True)
class Config:
    """A whole, validated site configuration."""

    source: str
    site: SiteConfig = field(default_factory=SiteConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    devices: tuple[DeviceConfig, ...] = ()
    points: tuple[PointConfig, ...] = ()
    actuators: tuple[ActuatorConfig, ...] = ()
    store: StoreConfig = field(default_factory=StoreConfig)
    twin: TwinConfig = field(default_factory=TwinConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    control: ControlConfig = field(default_factory=ControlConfig)
    uplink: UplinkConfig = field(default_factory=UplinkConfig)
    text_hash: str = ""

    def device(self, name: str) -> DeviceConfig:
        return next(d for d in self.devices if d.name == name)

    def point(self, name: str) -> PointConfig:
        return next(p for p in self.points if p.name == name)

    def actuator(self, name: str) -> ActuatorConfig:
        return next(a for a in self.actuators if a.name == name)
