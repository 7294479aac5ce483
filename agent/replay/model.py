"""Fit a replay's model on the learning rows of its recording and write the bundle.

The model is the one the SKAB benchmark uses (``models.skab.Settings``): a
linear autoencoder over windows of rows, quantized to int8 by TensorFlow's
converter, so a replay of a SKAB file runs the same detector as the
benchmark, only fed through Modbus and the whole agent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from agent.detector.bundle import Metadata, write_bundle
from agent.detector.detector import normalisation
from agent.replay.recording import RecordingError
from models import linear_ae
from models.export import tensorflow_version, to_int8_tflite
from models.skab import Settings


def train_bundle(
    rows: npt.NDArray[np.float64],
    *,
    features: tuple[str, ...],
    period_s: float,
    directory: Path,
    trained_on: str,
    settings: Settings,
) -> Path:
    """Fit on ``rows`` (the learning period), quantize, write a bundle; return its directory.

    Raises ``EdgetwinError`` without TensorFlow and ``RecordingError`` when
    there are too few rows for two windows.
    """
    if len(rows) < settings.window + 1:
        raise RecordingError(
            f"{trained_on}: {len(rows)} learning rows are too few for windows "
            f"of {settings.window} (need at least {settings.window + 1})"
        )
    mean, std = normalisation(rows, settings.tuning.robust)
    w = linear_ae.windows((rows - mean) / std, settings.window)
    layer = linear_ae.fit(w, variance=settings.variance, t2_weight=settings.t2_weight)
    meta = Metadata(
        features=features,
        window=settings.window,
        period_s=period_s,
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
        threshold=float(max(layer.score(w).max(), 1e-6) * settings.tuning.margin),
        sha256="0" * 64,
        versions={"tensorflow": tensorflow_version(), "numpy": np.__version__},
        trained_on=trained_on,
    )
    return write_bundle(directory, to_int8_tflite(layer, w), meta)
