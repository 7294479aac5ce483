"""`edgetwin bench skab` on a few SKAB files; skips without the data or TensorFlow."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from subprocess import CompletedProcess

import pytest

from models.skab import data_dir

SKAB = data_dir()

pytestmark = [
    pytest.mark.skipif(
        not (SKAB / "valve1").is_dir(),
        reason=f"SKAB data set not found at {SKAB} (set EDGETWIN_SKAB_DIR)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("tensorflow") is None,
        reason="TensorFlow not installed (pip install 'edgetwin[train]')",
    ),
]


def test_bench_skab_on_two_files(cli: Callable[..., CompletedProcess[str]]) -> None:
    r = cli("bench", "skab", str(SKAB), "--files", "2", timeout=240)
    assert r.returncode == 0, r.stderr
    assert "valve1/0.csv: F1" in r.stderr and "valve1/1.csv: F1" in r.stderr
    m = re.search(r"edgetwin int8 \(this\)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", r.stdout)
    assert m, r.stdout
    f1, far, mar = (float(g) for g in m.groups())
    # Two valve files: well above chance (flagging everything gives 0.70 at FAR 100 %).
    assert f1 > 0.6 and far < 20.0 and mar < 60.0
    assert "Conv-AE                 0.78   13.55   28.02" in r.stdout
    size = int(re.search(r"model size \(largest\): (\d+) bytes", r.stdout).group(1))
    assert size < 100_000
