"""Replay: recorded CSV files through a Modbus TCP simulator and the whole agent."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from agent.cli.main import main
from agent.replay import ReplayOptions, read_recording, replay
from agent.replay.recording import RecordingError
from agent.replay.scoring import Interval, compare
from models import skab

SKAB_FILE = "valve1/3.csv"

needs_training = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None
    or importlib.util.find_spec("ai_edge_litert") is None,
    reason="replay fits its int8 model with TensorFlow and runs it with "
    "ai-edge-litert; install 'edgetwin[train]' and ai-edge-litert",
)


def skab_file() -> Path:
    path = skab.data_dir() / SKAB_FILE
    if not path.is_file():
        pytest.skip(f"SKAB data not found at {path} (set EDGETWIN_SKAB_DIR)")
    return path


@needs_training
def test_skab_file_end_to_end_through_modbus(tmp_path: Path) -> None:
    rec = read_recording(skab_file())
    assert rec.points == (
        "accelerometer1rms",
        "accelerometer2rms",
        "current",
        "pressure",
        "temperature",
        "thermocouple",
        "voltage",
        "volume_flow_raterms",
    )
    assert rec.period_s == 1.0
    assert rec.labels is not None

    result = replay(rec, ReplayOptions(learn_rows=skab.TRAIN_ROWS), tmp_path)

    # Every row went through the real driver, one coalesced request per cycle.
    assert result.source == "tflite"
    assert result.cycles == rec.rows
    assert result.requests == rec.rows
    assert (tmp_path / "edgetwin.db").is_file()

    # Every labelled anomaly is found; false alarms stay rare.
    c = result.comparison
    assert c is not None
    assert c.matches and all(m.found for m in c.matches)
    assert c.false_alarms == ()
    assert c.counts.far_pct < 5.0
    assert c.counts.f1 > 0.8
    assert all(not d.open for d in result.detected)
    assert {e.kind for e in result.events} == {"anomaly_start", "anomaly_end"}

    # Through Modbus and the agent, the benchmark's own detector's verdict.
    direct, _, _ = skab.run_file(rec.path, skab.Settings(), [])
    assert (c.counts.tp, c.counts.fp, c.counts.tn, c.counts.fn) == (
        direct.counts.tp,
        direct.counts.fp,
        direct.counts.tn,
        direct.counts.fn,
    )


def write_plant(
    path: Path, rows: int = 700, fault: tuple[int, int] = (520, 580)
) -> None:
    """Write a plain CSV: power and flow that track each other, until a fault."""
    rng = np.random.default_rng(7)
    t = np.arange(rows, dtype=float)
    power_w = 100 + 20 * np.sin(2 * np.pi * t / 90) + rng.normal(0, 0.5, rows)
    flow_l_min = 0.4 * power_w + rng.normal(0, 0.2, rows)
    temp_c = 30 + 0.05 * power_w + rng.normal(0, 0.05, rows)
    labels = np.zeros(rows, dtype=int)
    a, b = fault
    flow_l_min[a:b] -= 12.0  # a blocked pipe: flow falls while power stays
    labels[a:b] = 1
    lines = ["ts,power_w,Flow (l/min),temp_c,anomaly"]
    for i in range(rows):
        lines.append(
            f"{1_700_000_000 + 2 * i},{power_w[i]:.3f},{flow_l_min[i]:.3f},"
            f"{temp_c[i]:.3f},{labels[i]}"
        )
    path.write_text("\n".join(lines) + "\n")


@needs_training
def test_plain_csv_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plant.csv"
    write_plant(path)

    code = main(["replay", str(path), "--learn-rows", "300", "--json"])
    assert code == 0
    d = json.loads(capsys.readouterr().out)

    assert d["points"] == ["power_w", "flow_l_min", "temp_c"]
    assert d["period_s"] == 2.0
    assert d["cycles"] == 700
    assert d["modbus_requests"] == 700
    assert d["source"] == "tflite"
    assert len(d["labelled"]) == 1
    lab = d["labelled"][0]
    assert (lab["start_row"], lab["end_row"]) == (520, 580)
    assert lab["found"] and lab["delay_rows"] <= 5
    assert d["false_alarm_intervals"] == 0
    # One interval; it outlasts the fault by at most a window (20 rows, still
    # holding faulty rows) plus the smoothing's tail, which is all its FAR.
    (found,) = d["detected"]
    assert 580 <= found["end_row"] <= 580 + 20 + 10
    assert d["pointwise"]["far_pct"] < 10.0
    assert d["pointwise"]["mar_pct"] < 10.0


def test_interval_comparison_counts() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0], dtype=bool)
    detected = [Interval(4, 7), Interval(10, 12, open=True)]
    c = compare(detected, labels, learn_rows=2)
    assert [(m.label.start, m.label.end, m.overlap_rows) for m in c.matches] == [
        (3, 6, 2),
        (8, 10, 0),
    ]
    assert c.matches[0].delay_rows == 1
    assert not c.matches[1].found
    assert c.false_alarms == (Interval(10, 12, open=True),)
    # Rows 2..11: TP rows 4,5; FP rows 6,10,11; FN rows 3,8,9; TN rows 2,7.
    assert (c.counts.tp, c.counts.fp, c.counts.tn, c.counts.fn) == (2, 3, 2, 3)


def test_recording_without_time_column(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(RecordingError) as exc:
        read_recording(path)
    assert str(exc.value) == (
        f"{path}: no time column (expected one of: datetime, ts, time, timestamp; "
        "header has: a, b)"
    )


def test_recording_with_a_bad_value(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        "time;Pressure;anomaly\n2020-03-09 10:34:33;1.5;0\n2020-03-09 10:34:34;n/a;0\n"
    )
    with pytest.raises(RecordingError) as exc:
        read_recording(path)
    assert str(exc.value) == f"{path}:3: Pressure: 'n/a' is not a finite number"


def test_cli_too_short_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "short.csv"
    write_plant(path, rows=100, fault=(80, 90))
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"edgetwin: {path}: 100 rows; replay needs more than the 400 learning "
        "rows plus a window of 20\n"
    )


@needs_training
def test_given_bundle_and_kept_state_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Imported here: it loads TensorFlow.
    from agent.replay.model import train_bundle

    path = tmp_path / "plant.csv"
    write_plant(path)
    rec = read_recording(path)
    bundle = train_bundle(
        rec.values[:300],
        features=rec.points,
        period_s=rec.period_s,
        directory=tmp_path / "model",
        trained_on="plant.csv",
        settings=skab.Settings(),
    )
    args = ["replay", str(path), "--learn-rows", "300", "--json"]
    args += ["--bundle", str(bundle), "--state-dir", str(tmp_path / "state")]

    # The second run shares the database and reports its own events only.
    runs = []
    for _ in range(2):
        assert main(args) == 0
        runs.append(json.loads(capsys.readouterr().out))
    assert runs[0]["detected"] == runs[1]["detected"]
    assert len(runs[1]["detected"]) == 1
    assert runs[0]["pointwise"] == runs[1]["pointwise"]
