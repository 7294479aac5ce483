"""`edgetwin train`: exported readings to an int8 bundle, seeded and repeatable."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from agent.detector.model import Int8Model
from tests.conftest import run_cli

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None,
    reason="training needs TensorFlow: pip install 'edgetwin[train]'",
)


def write_export(path: Path, rows: int = 600) -> None:
    """Readings in `edgetwin export`'s format: two related points at 1 Hz."""
    rng = np.random.default_rng(3)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time", "ts", "point", "value", "quality"])
        for i in range(rows):
            t = 1_767_225_600.0 + i
            temp = 30 + 3 * math.sin(i / 60) + rng.normal(0, 0.05)
            w.writerow(["", f"{t:.3f}", "temp_c", repr(temp), "good"])
            w.writerow(["", f"{t:.3f}", "power_w", repr(4 * temp + 10), "good"])


def test_train_twice_gives_the_same_bundle_and_it_loads(tmp_path: Path) -> None:
    data = tmp_path / "normal.csv"
    write_export(data)
    for out in ("a", "b"):
        res = run_cli("train", str(data), "-o", str(tmp_path / out), "--window", "10")
        assert res.returncode == 0, res.stderr
    assert (tmp_path / "a/model.tflite").read_bytes() == (
        tmp_path / "b/model.tflite"
    ).read_bytes()
    meta = json.loads((tmp_path / "a/model.json").read_text())
    assert meta["features"] == ["power_w", "temp_c"]
    assert meta["window"] == 10

    # The model takes normalised windows: a normal one is near zero, one
    # where power no longer follows temperature is not.
    model = Int8Model(tmp_path / "a")
    normal = np.zeros((10, 2))
    broken = normal.copy()
    broken[:, 0] = 3.0
    broken[:, 1] = -3.0
    assert model.score(broken)[0] > 10 * model.score(normal)[0]


def test_too_little_data_is_one_clear_line(tmp_path: Path) -> None:
    data = tmp_path / "short.csv"
    write_export(data, rows=20)
    res = run_cli("train", str(data), "-o", str(tmp_path / "x"), "--window", "10")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1] == (
        f"edgetwin: {data}: 20 rows of 1 s are too few for windows of 10 "
        "(need at least 40)"
    )
