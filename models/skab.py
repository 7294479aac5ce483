"""The SKAB outlier-detection benchmark, run through the int8 model and the runtime.

For every labelled file (``valve1/*.csv`` and ``other/*.csv``), the detector
learns on the first 400 rows, which fit the model, its normalisation and its
threshold, and then scores the rest, row by row, exactly as on a device.
Point-wise F1, false-alarm rate and missed-alarm rate are pooled over all
files. Only the first 400 rows of a file decide anything about that file;
its labels are read only to count hits and misses.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from agent.detector.bundle import Metadata, write_bundle
from agent.detector.detector import Detector, Tuning, normalisation
from agent.detector.errors import ModelError
from agent.detector.model import Int8Model
from models import linear_ae
from models.export import tensorflow_version, to_int8_tflite

SENSORS = (
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
)
TRAIN_ROWS = 400
DEFAULT_DIR = Path("/work/shared/data/skab")

# Published SKAB leaderboard (outlier detection): F1, FAR %, MAR %.
LEADERBOARD: tuple[tuple[str, float, float | None, float | None], ...] = (
    ("Conv-AE", 0.78, 13.55, 28.02),
    ("MSET", 0.78, 39.73, 14.13),
    ("T-squared+Q (PCA)", 0.76, 26.62, 24.92),
    ("LSTM-AE", 0.74, 29.96, 25.92),
    ("Isolation Forest", 0.29, None, None),
)


@dataclass(frozen=True)
class Settings:
    """The detector settings the benchmark uses, the same for every file."""

    window: int = 20
    variance: float = 0.8
    t2_weight: float = 1.0
    tuning: Tuning = field(
        default_factory=lambda: Tuning(
            learn_rows=TRAIN_ROWS,
            margin=1.5,
            ewma_alpha=0.5,
            onset_n=3,
            clear_n=1,
            robust=True,
        )
    )


@dataclass
class Counts:
    """Point-wise confusion counts."""

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    def add(self, pred: npt.NDArray[np.bool_], truth: npt.NDArray[np.bool_]) -> None:
        self.tp += int((pred & truth).sum())
        self.fp += int((pred & ~truth).sum())
        self.tn += int((~pred & ~truth).sum())
        self.fn += int((~pred & truth).sum())

    @property
    def f1(self) -> float:
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else 0.0

    @property
    def far_pct(self) -> float:
        d = self.fp + self.tn
        return 100 * self.fp / d if d else 0.0

    @property
    def mar_pct(self) -> float:
        d = self.fn + self.tp
        return 100 * self.fn / d if d else 0.0


@dataclass
class FileResult:
    """One file's outcome."""

    name: str
    counts: Counts
    model_bytes: int
    max_score_diff: float
    flag_disagreements: int


@dataclass
class SkabResult:
    """The pooled outcome and what it cost."""

    files: list[FileResult]
    pooled: Counts
    invoke_us: list[float]
    wall_s: float
    score_rel_diff: float
    flag_agreement_pct: float

    @property
    def model_bytes_max(self) -> int:
        return max(f.model_bytes for f in self.files)


def data_dir(given: str | Path | None = None) -> Path:
    """Return ``given``, else $EDGETWIN_SKAB_DIR, else the default SKAB directory."""
    return Path(given or os.environ.get("EDGETWIN_SKAB_DIR") or DEFAULT_DIR)


def labelled_files(root: Path) -> list[Path]:
    """Return the labelled files in a stable order: valve1 then other, by number."""

    def key(p: Path) -> tuple[str, int, str]:
        m = re.match(r"(\d+)", p.stem)
        return (
            "" if p.parent.name == "valve1" else p.parent.name,
            int(m.group(1)) if m else 0,
            p.stem,
        )

    found = [*root.glob("valve1/*.csv"), *root.glob("other/*.csv")]
    if not found:
        raise ModelError(
            f"{root}: no SKAB files (expected valve1/*.csv and other/*.csv)"
        )
    return sorted(found, key=key)


def read_file(path: Path) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Return the sensor columns and the ``anomaly`` labels of one SKAB file."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    missing = [c for c in (*SENSORS, "anomaly") if rows and c not in rows[0]]
    if not rows or missing:
        raise ModelError(
            f"{path}: not a SKAB file "
            f"(missing columns: {', '.join(missing) or 'all rows'})"
        )
    x = np.array([[float(r[s]) for s in SENSORS] for r in rows])
    y = np.array([float(r["anomaly"]) > 0 for r in rows])
    return x, y


def build_bundle(
    train: npt.NDArray[np.float64], settings: Settings, directory: Path, name: str
) -> tuple[Path, linear_ae.LinearAE]:
    """Fit the model on ``train`` rows, quantize it and write its bundle."""
    mean, std = normalisation(train, settings.tuning.robust)
    w = linear_ae.windows((train - mean) / std, settings.window)
    layer = linear_ae.fit(w, variance=settings.variance, t2_weight=settings.t2_weight)
    model = to_int8_tflite(layer, w)
    meta = Metadata(
        features=SENSORS,
        window=settings.window,
        period_s=1.0,
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
        threshold=float(layer.score(w).max() * settings.tuning.margin),
        sha256="0" * 64,
        versions={"tensorflow": tensorflow_version(), "numpy": np.__version__},
        trained_on=f"SKAB {name}, first {TRAIN_ROWS} rows",
    )
    return write_bundle(directory, model, meta), layer


def run_file(
    path: Path, settings: Settings, invoke_us: list[float]
) -> tuple[FileResult, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Benchmark one file; return its result and its int8 and float raw scores."""
    x, y = read_file(path)
    name = f"{path.parent.name}/{path.name}"
    with tempfile.TemporaryDirectory(prefix="edgetwin-skab-") as tmp:
        bundle, layer = build_bundle(x[:TRAIN_ROWS], settings, Path(tmp), name)
        model = Int8Model(bundle)
        size = (bundle / "model.tflite").stat().st_size
        det = Detector(model.meta, model, settings.tuning, "tflite")
        pred = np.zeros(len(x), dtype=bool)
        for i, row in enumerate(x):
            r = det.push(row)
            if r is not None:
                pred[i] = r.active

        # Float versus int8 on the same test windows, with the same normalisation.
        z = (x - det.mean) / det.std
        start = TRAIN_ROWS - settings.window + 1
        w = linear_ae.windows(z[start:], settings.window)
        int8_scores = np.empty(len(w))
        for i, win in enumerate(w):
            t0 = time.perf_counter()
            out = model.run(win)
            invoke_us.append((time.perf_counter() - t0) * 1e6)
            int8_scores[i] = float((out**2).sum())
        float_scores = layer.score(w).astype(np.float64)

    counts = Counts()
    counts.add(pred[TRAIN_ROWS:], y[TRAIN_ROWS:])
    raw_thr = det.threshold
    disagree = int(((int8_scores > raw_thr) != (float_scores > raw_thr)).sum())
    diff = float(
        np.max(np.abs(int8_scores - float_scores) / np.maximum(float_scores, 1e-9))
    )
    return FileResult(name, counts, size, diff, disagree), int8_scores, float_scores


def run(
    root: Path,
    files: int | None = None,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
) -> SkabResult:
    """Run the benchmark on the first ``files`` labelled files (all when None)."""
    settings = settings or Settings()
    paths = labelled_files(root)[:files]
    t0 = time.perf_counter()
    pooled = Counts()
    results: list[FileResult] = []
    invoke_us: list[float] = []
    int8_all: list[npt.NDArray[np.float64]] = []
    float_all: list[npt.NDArray[np.float64]] = []
    for path in paths:
        res, s8, sf = run_file(path, settings, invoke_us)
        for k in ("tp", "fp", "tn", "fn"):
            setattr(pooled, k, getattr(pooled, k) + getattr(res.counts, k))
        results.append(res)
        int8_all.append(s8)
        float_all.append(sf)
        if progress:
            c = res.counts
            progress(
                f"{res.name}: F1 {c.f1:.3f} FAR {c.far_pct:.1f} % MAR {c.mar_pct:.1f} %"
            )
    s8, sf = np.concatenate(int8_all), np.concatenate(float_all)
    rel = float(np.median(np.abs(s8 - sf) / np.maximum(sf, 1e-9)))
    n_windows = sum(len(a) for a in int8_all)
    agree = 100.0 * (1 - sum(r.flag_disagreements for r in results) / max(1, n_windows))
    return SkabResult(results, pooled, invoke_us, time.perf_counter() - t0, rel, agree)
