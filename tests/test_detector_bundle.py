"""Bundles and the runtime loader: every way a bundle can be wrong, and the fallback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from agent.config.model import ModelConfig
from agent.detector.bundle import read_bundle, sha256_of
from agent.detector.errors import ModelError, RuntimeMissingError
from agent.detector.model import Int8Model
from agent.detector.runtime import interpreter_class
from agent.detector.stage import DEMO_BUNDLE, DetectorStage, load_scorer


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    d = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE, d)
    return d


def edit_meta(bundle: Path, **changes: object) -> None:
    meta_path = bundle / "model.json"
    d = json.loads(meta_path.read_text())
    d.update(changes)
    meta_path.write_text(json.dumps(d))


def test_demo_bundle_loads_and_matches_its_hash() -> None:
    model = Int8Model(DEMO_BUNDLE)
    assert model.runtime == "ai_edge_litert.interpreter"
    assert model.meta.sha256 == sha256_of(DEMO_BUNDLE / "model.tflite")
    assert (DEMO_BUNDLE / "model.tflite").stat().st_size < 100_000
    n = len(model.meta.features)
    score, per_feature = model.score(np.zeros((model.meta.window, n)))
    assert score >= 0 and per_feature.shape == (n,)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model bundle here"):
        read_bundle(tmp_path / "nope")


def test_missing_model_file(bundle: Path) -> None:
    (bundle / "model.tflite").unlink()
    with pytest.raises(ModelError) as e:
        read_bundle(bundle)
    assert str(e.value) == f"{bundle}: model.tflite is missing from the bundle"


def test_hash_mismatch(bundle: Path) -> None:
    data = bytearray((bundle / "model.tflite").read_bytes())
    data[-1] ^= 0xFF
    (bundle / "model.tflite").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match the bundle's"):
        read_bundle(bundle)


def test_wrong_format(bundle: Path) -> None:
    edit_meta(bundle, format="something-else/9")
    with pytest.raises(ModelError, match="format: 'something-else/9' is not"):
        read_bundle(bundle)


def test_not_json(bundle: Path) -> None:
    (bundle / "model.json").write_text("{nope")
    with pytest.raises(ModelError, match="not valid JSON"):
        read_bundle(bundle)


def test_normalisation_length_must_match_features(bundle: Path) -> None:
    n = len(read_bundle(bundle)[1].features)
    edit_meta(bundle, mean=[1.0, 2.0])
    with pytest.raises(ModelError, match=f"mean: expected a list of {n} numbers"):
        read_bundle(bundle)


def test_wrong_input_shape(bundle: Path) -> None:
    meta = read_bundle(bundle)[1]
    n, width = len(meta.features), meta.window * len(meta.features)
    edit_meta(bundle, window=meta.window + 1)
    with pytest.raises(ModelError) as e:
        Int8Model(bundle)
    assert f"input shape [1, {width}] does not fit the metadata" in str(e.value)
    w = meta.window + 1
    assert f"window {w} x {n} features = [1, {w * n}]" in str(e.value)


def test_not_a_model(bundle: Path) -> None:
    junk = b"not a flatbuffer" * 10
    (bundle / "model.tflite").write_bytes(junk)
    edit_meta(bundle, sha256=sha256_of(bundle / "model.tflite"))
    with pytest.raises(ModelError, match="not a loadable TFLite model"):
        Int8Model(bundle)


def test_missing_runtime_names_every_module_tried() -> None:
    with pytest.raises(RuntimeMissingError) as e:
        interpreter_class(("edgetwin_no_such_runtime", "tflite_nope.interpreter"))
    msg = str(e.value)
    assert msg.startswith("no TFLite runtime: tried edgetwin_no_such_runtime")
    assert "tflite_nope.interpreter" in msg and "pip install ai-edge-litert" in msg
    assert isinstance(e.value, ImportError)


NO_RUNTIME = ("edgetwin_no_such_runtime",)


def test_without_runtime_the_stage_falls_back_to_statistical(
    bundle: Path, caplog: pytest.LogCaptureFixture
) -> None:
    meta, _, source = load_scorer(bundle, NO_RUNTIME)
    assert source == "statistical" and meta.window == read_bundle(bundle)[1].window
    assert "scoring with the statistical fallback instead" in caplog.text
    stage = DetectorStage(ModelConfig(enabled=True, bundle=str(bundle)), NO_RUNTIME)
    assert stage.detector.source == "statistical"


def test_without_runtime_a_wrong_bundle_is_still_an_error(bundle: Path) -> None:
    (bundle / "model.json").unlink()
    with pytest.raises(ModelError, match=r"model\.json is missing"):
        load_scorer(bundle, NO_RUNTIME)
