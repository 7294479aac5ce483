"""Pack a batch of readings into one blob, and back.

Each reading has a point id (uint16), milliseconds after the batch's first
timestamp (uint32), a value (float64, NaN when absent) and a quality code
(uint8), all little-endian: 15 bytes. The columns are stored one after the
other and deflated (``MARK`` first): ids, offsets and qualities repeat from
batch to batch and shrink to almost nothing, which is what an SD card
sees. A blob of exactly 15 bytes a reading without the mark is the plain
structured layout, which is also read.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

import numpy as np

from agent.reading import Quality, Reading

DTYPE = np.dtype([("p", "<u2"), ("dt", "<u4"), ("v", "<f8"), ("q", "u1")])
MARK = b"\x00ZC1"


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
    columns = b"".join(
        np.ascontiguousarray(arr[f]).tobytes() for f in DTYPE.names or ()
    )
    return t0, float(ts.max()), MARK + zlib.compress(columns, 6)


def decode(t0: float, blob: bytes) -> np.ndarray:
    """Return the structured array of a batch (``dt`` still relative to ``t0``)."""
    if not blob.startswith(MARK):
        return np.frombuffer(blob, dtype=DTYPE)
    raw = zlib.decompress(blob[len(MARK) :])
    n = len(raw) // DTYPE.itemsize
    arr = np.empty(n, dtype=DTYPE)
    at = 0
    for name in DTYPE.names or ():
        field = DTYPE[name]
        size = n * field.itemsize
        arr[name] = np.frombuffer(raw[at : at + size], dtype=field)
        at += size
    return arr


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
