"""Configuration of the twin: its frozen dataclass and its parser."""

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
