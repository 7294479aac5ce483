"""Pack a batch of readings into one blob, and back.

Each reading takes 15 bytes: point id (uint16), milliseconds after the
batch's first timestamp (uint32), value (float64, NaN when absent) and
quality code (uint8), all little-endian.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from agent.reading import Quality, Reading

DTYPE = np.dtype([("p", "<u2"), ("dt", "<u4"), ("v", "<f8"), ("q", "u1")])


def encode(
    rows: list[tuple[int, float, float | None, int]],
) -> tuple[float, float, bytes]:
    """Pack ``(point_id, ts, value, quality)`` rows; return ``(t0, t1, blob)``."""
    arr = np.empty(len(rows), dtype=DTYPE)
    ts = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    t0 = float(ts.min())
    arr["p"] = [r[0] for r in rows]
    arr["dt"] = np.rint((ts - t0) * 1000.0)
    arr["v"] = [np.nan if r[2] is None else r[2] for r in rows]
    arr["q"] = [r[3] for r in rows]
    return t0, float(ts.max()), arr.tobytes()


def decode(t0: float, blob: bytes) -> np.ndarray:
    """Return the structured array of a batch (``dt`` still relative to ``t0``)."""
    return np.frombuffer(blob, dtype=DTYPE)


def readings(
    t0: float, blob: bytes, names: dict[int, str], wanted: set[int] | None = None
) -> Iterator[Reading]:
    """Yield the batch's readings, optionally only for point ids in ``wanted``."""
    for row in decode(t0, blob):
        pid = int(row["p"])
        if wanted is not None and pid not in wanted:
            continue
        v = float(row["v"])
        yield Reading(
            ts=round(t0 + int(row["dt"]) / 1000.0, 3),
            point=names.get(pid, f"#{pid}"),
            value=None if np.isnan(v) else v,
            quality=Quality(int(row["q"])),
        )


def rows_of(
    readings_: Iterable[Reading], ids: dict[str, int]
) -> list[tuple[int, float, float | None, int]]:
    return [(ids[r.point], r.ts, r.value, int(r.quality)) for r in readings_]
