"""The detector in the running agent: learns on the device, then flags the fan stopping."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from agent.clock import SimClock
from agent.config import load_config
from agent.detector.bundle import Metadata
from agent.detector.detector import Detector, Tuning
from agent.detector.events import Hysteresis
from agent.detector.stage import DetectorStage
from agent.detector.statistical import StatisticalScorer
from agent.runtime import Agent
from agent.store.store import Store

REPO = Path(__file__).resolve().parent.parent


def test_hysteresis_needs_onset_rows_to_start_and_clear_rows_to_end() -> None:
    h = Hysteresis(onset_n=3, clear_n=2)
    changes = [h.update(a) for a in [1, 1, 0, 1, 1, 1, 0, 1, 0, 0, 1]]
    assert changes == [
        None,
        None,
        None,
        None,
        None,
        True,
        None,
        None,
        None,
        False,
        None,
    ]


def test_detector_learns_normalisation_and_threshold() -> None:
    meta = Metadata(("a", "b"), 2, 1.0, (0.0, 0.0), (1.0, 1.0), 99.0, "0" * 64)
    det = Detector(
        meta, StatisticalScorer(), Tuning(learn_rows=200, margin=2.0), "statistical"
    )
    rng = np.random.default_rng(1)
    rows = rng.normal([10.0, -5.0], [2.0, 0.5], size=(200, 2))
    assert all(det.push(r) is None for r in rows)
    assert np.allclose(det.mean, rows.mean(axis=0)) and np.allclose(
        det.std, rows.std(axis=0)
    )
    assert det.threshold != 99.0
    quiet = det.push([10.0, -5.0])
    assert quiet is not None and not quiet.active
    loud = det.push([10.0, 5.0])  # b is 20 sigmas off
    assert (
        loud is not None
        and loud.active
        and loud.change == "start"
        and loud.top[0] == "b"
    )


def site_config(tmp_path: Path) -> Path:
    text = (REPO / "agent/config/default.toml").read_text()
    text = re.sub(
        r"faults = \[.*?\n\]",
        'faults = [{ kind = "fan_stop", start_h = 3, duration_h = 1 }]',
        text,
        flags=re.S,
    )
    text = text.replace('state_dir = "/var/lib/edgetwin"', f'state_dir = "{tmp_path}"')
    # Open loop: the fan held at its safe full duty, so that the detector
    # learns on the device (two hours) what a running fan looks like.
    text = text.replace("learn_s = 0\n", "learn_s = 7200\n")
    text = text.replace("[control]\nenabled = true", "[control]\nenabled = false")
    path = tmp_path / "site.toml"
    path.write_text(text)
    return path


def test_agent_flags_the_fan_stop_and_names_the_fan(tmp_path: Path) -> None:
    config = load_config(site_config(tmp_path))
    clock = SimClock(start=1_767_225_600.0)
    start = clock.now()
    agent = Agent(config, clock, state_dir=tmp_path)
    stage = agent.stages[1]
    assert isinstance(stage, DetectorStage) and stage.detector.source == "tflite"
    agent.run(5 * 3600)
    assert stage.detector.learned
    assert agent.stats.stage_errors == 0

    with Store(tmp_path / "edgetwin.db") as store:
        starts = store.events("anomaly_start")
        ends = store.events("anomaly_end")
    # The fan stops from hour 3 to hour 4: nothing before, an alarm during.
    assert starts, "no anomaly flagged"
    first_h = (starts[0].ts - start) / 3600
    assert 3.0 <= first_h < 3.25
    assert "fan_current_a" in starts[0].data["top"]
    assert starts[0].data["source"] == "tflite"
    # NOTE: no clearing is asserted here: two hours of learning on the device
    # do not cover the day's ambient swing, so after the fan returns the
    # score stays above the threshold for the rest of the run. Clearing is
    # covered by the hysteresis test above and by the demo bundle's week.
    assert all(e.ts > starts[0].ts for e in ends)
