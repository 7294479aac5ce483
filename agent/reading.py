"""The unit of data that flows through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Quality(IntEnum):
    """Why a reading is, or is not, to be trusted. Stored as its integer code."""

    GOOD = 0
    OUT_OF_RANGE = 1
    DEVICE_ERROR = 2
    TIMEOUT = 3
    BUSY = 4
    DECODE_ERROR = 5
    NOT_READY = 6

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Sample:
    """What a device driver returns for one point: a raw value or why there is none."""

    value: float | None
    quality: Quality = Quality.GOOD
    reason: str = ""

    @classmethod
    def bad(cls, quality: Quality, reason: str) -> Sample:
        return cls(None, quality, reason)


@dataclass(frozen=True, slots=True)
class Reading:
    """One point at one time, in engineering units after scale and offset.

    ``ts`` is seconds since the epoch on the agent's clock. ``value`` is None
    when the quality says the device gave nothing usable; for ``OUT_OF_RANGE``
    it keeps the rejected value so that it can be inspected.
    """

    ts: float
    point: str
    value: float | None
    quality: Quality = Quality.GOOD
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.quality is Quality.GOOD
