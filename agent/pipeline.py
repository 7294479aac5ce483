"""The stages of one cycle and the frame they pass along.

One cycle is plain function calls in order: the sampler's new readings go
into a ``Frame``; each stage reads what earlier stages put there and adds
its own part. A stage knows nothing of the stages around it, only the frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.reading import Reading
from agent.store.store import Actuation, Event


@dataclass(frozen=True)
class Estimate:
    """What the twin says of one point: expected value, residual and its size in sigmas."""

    expected: float
    residual: float
    z: float


@dataclass
class Frame:
    """One cycle's data.

    ``readings`` are the readings taken this cycle; ``latest`` holds the last
    reading of every point, whenever it was taken.
    """

    ts: float
    readings: list[Reading]
    latest: Mapping[str, Reading]
    estimates: dict[str, Estimate] = field(default_factory=dict)
    hidden: dict[str, float] = field(default_factory=dict)
    anomaly: dict[str, Any] = field(default_factory=dict)
    actuations: list[Actuation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    insights: list[str] = field(default_factory=list)


class Stage(Protocol):
    """A step of the cycle. ``process`` must not block on I/O."""

    name: str

    def process(self, frame: Frame) -> None: ...

    def close(self) -> None: ...


class PassThrough:
    """A stage that is configured off: it leaves the frame as it is."""

    def __init__(self, name: str) -> None:
        self.name = name

    def process(self, frame: Frame) -> None:
        return None

    def close(self) -> None:
        return None
