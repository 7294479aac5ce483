"""Read a recorded CSV into columns of values, row times and anomaly labels.

Two layouts are understood. SKAB's: ``;`` separated, a ``datetime`` column,
numeric sensor columns and optional ``anomaly`` / ``changepoint`` label
columns. A plain one: ``,`` or ``;`` separated, a ``ts`` column (seconds
since the epoch) or a ``time`` column (ISO 8601 or seconds), numeric columns
and an optional ``anomaly`` label column. Each numeric column becomes one
point, named by lower-casing the header and turning anything that is not a
letter or digit into ``_`` (``Volume Flow RateRMS`` is ``volume_flow_raterms``).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from agent.errors import EdgetwinError

TIME_COLUMNS = ("datetime", "ts", "time", "timestamp")
LABEL_COLUMNS = ("anomaly", "changepoint")


class RecordingError(EdgetwinError, ValueError):
    """A recorded CSV that cannot be replayed; the message names file and line."""


@dataclass(frozen=True)
class Recording:
    """A recorded CSV: one row per sample, one column per point.

    ``times_s`` are seconds since the epoch; ``period_s`` is the median
    spacing of the rows (replay plays one row per period). ``labels`` is
    True where the file marks a row anomalous, None without an ``anomaly``
    column.
    """

    path: Path
    columns: tuple[str, ...]
    points: tuple[str, ...]
    times_s: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]
    labels: npt.NDArray[np.bool_] | None
    changepoints: npt.NDArray[np.bool_] | None
    period_s: float

    @property
    def rows(self) -> int:
        return len(self.values)


def point_name(column: str) -> str:
    """Return the point name for a column header."""
    name = re.sub(r"[^a-z0-9]+", "_", column.strip().lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"c_{name}"
    return name[:63]


def _parse_time(path: Path, line: int, column: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise RecordingError(
            f"{path}:{line}: {column}: {text!r} is not a time "
            "(ISO 8601 such as 2020-03-09 10:34:33, or seconds since the epoch)"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def _number(path: Path, line: int, column: str, text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise RecordingError(
            f"{path}:{line}: {column}: {text!r} is not a finite number"
        )
    return v


def read_recording(path: str | Path) -> Recording:
    """Read ``path``; raise ``RecordingError`` naming the file, line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc.strerror or exc}") from None
    head = text.splitlines()[0] if text else ""
    delimiter = ";" if head.count(";") > head.count(",") else ","
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    header = [h.strip() for h in next(reader, [])]

    # Which column is time, which are labels, which are points.
    lower = [h.lower() for h in header]
    time_idx = next((lower.index(c) for c in TIME_COLUMNS if c in lower), None)
    if time_idx is None:
        raise RecordingError(
            f"{path}: no time column (expected one of: {', '.join(TIME_COLUMNS)}; "
            f"header has: {', '.join(header) or 'nothing'})"
        )
    label_idx = {c: lower.index(c) for c in LABEL_COLUMNS if c in lower}
    data_idx = [
        i for i in range(len(header)) if i != time_idx and i not in label_idx.values()
    ]
    if not data_idx:
        raise RecordingError(f"{path}: no value columns besides {header[time_idx]!r}")
    columns = tuple(header[i] for i in data_idx)
    points = tuple(point_name(c) for c in columns)
    dupes = sorted({p for p in points if points.count(p) > 1})
    if dupes:
        raise RecordingError(
            f"{path}: columns map to the same point name: {', '.join(dupes)}"
        )

    # The rows.
    times: list[float] = []
    values: list[list[float]] = []
    labels: dict[str, list[bool]] = {c: [] for c in label_idx}
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise RecordingError(
                f"{path}:{line}: {len(row)} fields, the header has {len(header)}"
            )
        times.append(_parse_time(path, line, header[time_idx], row[time_idx]))
        values.append([_number(path, line, header[i], row[i]) for i in data_idx])
        for c, i in label_idx.items():
            labels[c].append(_number(path, line, header[i], row[i]) > 0)
    if len(values) < 2:
        raise RecordingError(f"{path}: {len(values)} data rows; at least 2 are needed")

    t = np.asarray(times)
    steps = np.diff(t)
    period_s = float(np.median(steps))
    if not period_s > 0:
        raise RecordingError(
            f"{path}: rows are not spaced in time (median spacing {period_s:g} s)"
        )
    return Recording(
        path=path,
        columns=columns,
        points=points,
        times_s=t,
        values=np.asarray(values, dtype=np.float64),
        labels=np.asarray(labels["anomaly"]) if "anomaly" in labels else None,
        changepoints=(
            np.asarray(labels["changepoint"]) if "changepoint" in labels else None
        ),
        period_s=period_s,
    )
