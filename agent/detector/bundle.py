"""Model bundles: an int8 TFLite file and the metadata JSON that describes it.

A bundle is a directory holding ``model.tflite`` and ``model.json``. The
metadata names the features (one column per point or twin residual), the
window length, the row period, the normalisation learned at training, the
threshold, the versions that built it and the model file's sha256. Loading
checks all of it before anything is scored, so a wrong, truncated or altered
bundle fails at start with one line saying what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.detector.errors import ModelError

FORMAT = "edgetwin-model/1"
MODEL_FILE = "model.tflite"
META_FILE = "model.json"


@dataclass(frozen=True)
class Metadata:
    """What a bundle says about its model.

    ``features`` are column names: a point name, ``residual:POINT`` for
    the twin's residual of that point, or ``hidden:NAME`` for a quantity the
    twin estimates (such as ``fan_conductance_w_k``). The model's input is one window of
    ``window`` rows, oldest first, flattened row by row (``window *
    len(features)`` int8 values). Its output's first ``window *
    len(features)`` values are the reconstruction residuals in the same
    order; any further values are scaled latent scores. The anomaly score is
    the sum of squares of the dequantized output.
    """

    features: tuple[str, ...]
    window: int
    period_s: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    threshold: float
    sha256: str
    versions: dict[str, str] = field(default_factory=dict)
    trained_on: str = ""
    format: str = FORMAT

    @property
    def input_size(self) -> int:
        return self.window * len(self.features)

    def to_json(self) -> str:
        d = asdict(self)
        d["features"] = list(self.features)
        d["mean"] = list(self.mean)
        d["std"] = list(self.std)
        return json.dumps(d, indent=2, sort_keys=True) + "\n"


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_bundle(directory: Path, model_bytes: bytes, meta: Metadata) -> Path:
    """Write ``model.tflite`` and ``model.json``, with the model's hash."""
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    model_path.write_bytes(model_bytes)
    digest = hashlib.sha256(model_bytes).hexdigest()
    meta = Metadata(**{**asdict(meta), "sha256": digest})
    (directory / META_FILE).write_text(meta.to_json())
    return directory


def _number_list(where: str, key: str, value: Any, n: int) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != n:
        raise ModelError(
            f"{where}: {key}: expected a list of {n} numbers, got {value!r}"
        )
    out: list[float] = []
    for v in value:
        if (
            isinstance(v, bool)
            or not isinstance(v, int | float)
            or not math.isfinite(v)
        ):
            raise ModelError(f"{where}: {key}: {v!r} is not a finite number")
        out.append(float(v))
    return tuple(out)


def parse_metadata(where: str, text: str) -> Metadata:
    """Check the metadata JSON and return it typed; ``ModelError`` names the key."""
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{where}: not valid JSON: {exc}") from exc
    if not isinstance(d, dict):
        raise ModelError(f"{where}: expected a JSON object, got {type(d).__name__}")
    if d.get("format") != FORMAT:
        raise ModelError(f"{where}: format: {d.get('format')!r} is not {FORMAT!r}")
    required = ("features", "window", "period_s", "mean", "std", "threshold", "sha256")
    missing = [k for k in required if k not in d]
    if missing:
        raise ModelError(f"{where}: missing keys: {', '.join(missing)}")

    features = d["features"]
    if (
        not isinstance(features, list)
        or not features
        or not all(isinstance(f, str) and f for f in features)
        or len(set(features)) != len(features)
    ):
        raise ModelError(
            f"{where}: features: expected a list of distinct names, got {features!r}"
        )
    window = d["window"]
    if (
        isinstance(window, bool)
        or not isinstance(window, int)
        or not 1 <= window <= 256
    ):
        raise ModelError(f"{where}: window: {window!r} is not an integer from 1 to 256")
    period_s = d["period_s"]
    if (
        isinstance(period_s, bool)
        or not isinstance(period_s, int | float)
        or not (0 < period_s < math.inf)
    ):
        raise ModelError(f"{where}: period_s: {period_s!r} is not a positive number")
    n = len(features)
    mean = _number_list(where, "mean", d["mean"], n)
    std = _number_list(where, "std", d["std"], n)
    if any(s <= 0 for s in std):
        raise ModelError(f"{where}: std: every value must be positive, got {list(std)}")
    threshold = d["threshold"]
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not (0 < threshold < math.inf)
    ):
        raise ModelError(f"{where}: threshold: {threshold!r} is not a positive number")
    digest = d["sha256"]
    if not isinstance(digest, str) or len(digest) != 64:
        raise ModelError(f"{where}: sha256: {digest!r} is not a hex sha256")
    versions = d.get("versions", {})
    if not isinstance(versions, dict):
        raise ModelError(f"{where}: versions: expected an object, got {versions!r}")
    return Metadata(
        features=tuple(features),
        window=window,
        period_s=float(period_s),
        mean=mean,
        std=std,
        threshold=float(threshold),
        sha256=digest,
        versions={str(k): str(v) for k, v in versions.items()},
        trained_on=str(d.get("trained_on", "")),
    )


def read_bundle(directory: Path) -> tuple[Path, Metadata]:
    """Return the model file and its checked metadata.

    Raises ``ModelError`` when a file is missing, the metadata is malformed
    or the model file's sha256 differs from the one recorded.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelError(f"{directory}: no model bundle here (expected a directory)")
    meta_path = directory / META_FILE
    model_path = directory / MODEL_FILE
    for p in (meta_path, model_path):
        if not p.is_file():
            raise ModelError(f"{directory}: {p.name} is missing from the bundle")
    meta = parse_metadata(str(meta_path), meta_path.read_text())
    actual = sha256_of(model_path)
    if actual != meta.sha256:
        raise ModelError(
            f"{model_path}: sha256 {actual[:12]}... does not match the bundle's "
            f"{meta.sha256[:12]}... (file altered or from another bundle)"
        )
    return model_path, meta
