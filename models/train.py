"""Train a bundle from readings exported by ``edgetwin export``.

The CSV has the columns time, ts, point, value, quality. Readings are put on
a grid of ``period_s``: each row holds every feature's last good value at
that time. The model is fitted in closed form (see ``linear_ae``), which is
deterministic, then quantized to int8 with the training windows as the
representative data set.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.detector.bundle import Metadata, read_bundle, write_bundle
from agent.errors import EdgetwinError
from models import linear_ae
from models.export import tensorflow_version, to_int8_tflite

COLUMNS = ("time", "ts", "point", "value", "quality")


@dataclass(frozen=True)
class TrainOptions:
    """How to turn a recording into a bundle."""

    window: int = 20
    period_s: float = 1.0
    variance: float = 0.9
    t2_weight: float = 0.0
    margin: float = 3.0
    seed: int = 0


def read_export(
    path: Path, points: Sequence[str] | None = None, period_s: float = 1.0
) -> tuple[tuple[str, ...], npt.NDArray[np.float64]]:
    """Return the feature names and the grid of rows built from an export CSV.

    Points that never vary are left out when ``points`` is not given, since
    they carry nothing to learn. Raises ``EdgetwinError`` naming the file
    and the row for anything malformed.
    """
    series: dict[str, list[tuple[float, float]]] = {}
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise EdgetwinError(
                f"{path}: columns {reader.fieldnames} are not {', '.join(COLUMNS)} "
                "(write it with edgetwin export)"
            )
        for n, row in enumerate(reader, start=2):
            if row["quality"] != "good" or row["value"] == "":
                continue
            try:
                ts, value = float(row["ts"]), float(row["value"])
            except ValueError:
                raise EdgetwinError(
                    f"{path}: line {n}: ts {row['ts']!r} or value {row['value']!r} "
                    "is not a number"
                ) from None
            series.setdefault(row["point"], []).append((ts, value))
    if not series:
        raise EdgetwinError(f"{path}: no good readings")
    if points:
        unknown = [p for p in points if p not in series]
        if unknown:
            raise EdgetwinError(
                f"{path}: no good readings of {', '.join(unknown)} "
                f"(found: {', '.join(sorted(series))})"
            )
        names = tuple(points)
    else:
        names = tuple(
            p for p in sorted(series) if np.ptp([v for _, v in series[p]]) > 0
        )

    # Every row needs a value of every feature: start when all have one.
    start = max(series[p][0][0] for p in names)
    end = min(series[p][-1][0] for p in names)
    grid = start + period_s * np.arange(math.floor((end - start) / period_s) + 1)
    columns = []
    for p in names:
        times = np.array([t for t, _ in series[p]])
        vs = np.array([v for _, v in series[p]])
        columns.append(vs[np.searchsorted(times, grid + 1e-9, side="right") - 1])
    return names, np.stack(columns, axis=1)


def train(
    csv_path: Path,
    out_dir: Path,
    options: TrainOptions,
    points: Sequence[str] | None = None,
) -> Metadata:
    """Fit, quantize and write a bundle to ``out_dir``; return its metadata."""
    names, rows = read_export(csv_path, points, options.period_s)
    if len(rows) < options.window * 4:
        raise EdgetwinError(
            f"{csv_path}: {len(rows)} rows of {options.period_s:g} s are too few "
            f"for windows of {options.window} (need at least {options.window * 4})"
        )
    std = np.maximum(rows.std(axis=0), 1e-6)
    return fit_and_write(
        out_dir,
        names,
        rows,
        std,
        options=options,
        trained_on=f"{csv_path.name}: {len(rows)} rows",
    )


def fit_and_write(
    out_dir: Path,
    features: Sequence[str],
    rows: npt.NDArray[np.floating[Any]],
    std: npt.NDArray[np.floating[Any]],
    *,
    options: TrainOptions,
    trained_on: str,
) -> Metadata:
    """Fit the model to ``rows`` (normalised by their mean and ``std``), quantize it
    to int8, write the bundle to ``out_dir`` and return its metadata."""
    np.random.seed(options.seed)
    mean = rows.mean(axis=0)
    w = linear_ae.windows((rows - mean) / std, options.window)
    layer = linear_ae.fit(w, variance=options.variance, t2_weight=options.t2_weight)
    model = to_int8_tflite(layer, w, seed=options.seed)
    meta = Metadata(
        features=tuple(features),
        window=options.window,
        period_s=options.period_s,
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
        threshold=float(layer.score(w).max() * options.margin),
        sha256="0" * 64,
        versions={"tensorflow": tensorflow_version(), "numpy": np.__version__},
        trained_on=trained_on,
    )
    write_bundle(out_dir, model, meta)
    return read_bundle(out_dir)[1]
