"""The shipped demo bundle in the default configuration, over a simulated week.

Every point is polled each minute (the bundle's period) so that a week of
the closed-loop plant runs in well under a minute. The detector runs as
configured by default: the demo bundle's normalisation and threshold.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from agent.clock import SimClock
from agent.config import default_text, parse_config
from agent.config.model import ModelConfig
from agent.config.schema import Config
from agent.detector.stage import DetectorStage
from agent.pipeline import Estimate, Frame
from agent.reading import Reading
from agent.runtime import Agent
from agent.store.store import Event, Store

START_TS = 1_767_225_600.0
WEEK_S = 7 * 86400.0
POINT_PERIOD_S = 60.0
# The twin starts from first guesses of the cabinet's constants; its
# residuals are large until it has learned them.
TWIN_SETTLED_H = 1.0


def week_config(text: str) -> Config:
    config = parse_config(text, "<test>")
    assert config.model.enabled and config.model.bundle == ""
    return replace(
        config,
        points=tuple(replace(p, period_s=POINT_PERIOD_S) for p in config.points),
        store=replace(config.store, commit_interval_s=3600.0),
    )


def run_week(config: Config, tmp_path: Path) -> tuple[list[Event], list[Event]]:
    agent = Agent(config, SimClock(start=START_TS), state_dir=tmp_path)
    stage = agent.stages[1]
    assert isinstance(stage, DetectorStage) and stage.detector.source == "tflite"
    agent.run(WEEK_S)
    assert agent.stats.stage_errors == 0
    with Store(tmp_path / "edgetwin.db") as store:
        return store.events("anomaly_start"), store.events("anomaly_end")


def hours(e: Event) -> float:
    return (e.ts - START_TS) / 3600.0


def frame_with(hidden: dict[str, float], ts: float = START_TS) -> Frame:
    latest = {
        p: Reading(ts, p, v)
        for p, v in (
            ("cabinet_temp_c", 30.0),
            ("ambient_temp_c", 20.0),
            ("power_w", 120.0),
            ("fan_current_a", 0.2),
            ("door_open", 0.0),
        )
    }
    est = Estimate(expected=0.0, residual=0.1, z=1.0)
    return Frame(
        ts,
        [],
        latest,
        estimates={"cabinet_temp_c": est, "power_w": est},
        hidden=dict(hidden),
    )


def test_hidden_feature_is_read_kept_and_centred_until_first_reported() -> None:
    stage = DetectorStage(ModelConfig(enabled=True, learn_s=0.0))
    i = stage.meta.features.index("hidden:fan_conductance_w_k")
    centre = stage.meta.mean[i]
    # Not reported yet (a fan at one duty): the feature's centre, row scored.
    row = stage.row(frame_with({"load_w": 100.0}))
    assert row is not None and row[i] == centre
    # Reported: its value; then no longer pinned down: the last value.
    row = stage.row(frame_with({"fan_conductance_w_k": 9.5}))
    assert row is not None and row[i] == 9.5
    row = stage.row(frame_with({"fan_conductance_w_k": float("nan")}))
    assert row is not None and row[i] == 9.5


def test_fault_free_week_raises_no_anomaly(tmp_path: Path) -> None:
    text, n = re.subn(r"faults = \[.*?\n\]", "faults = []", default_text(), flags=re.S)
    assert n == 1
    starts, _ = run_week(week_config(text), tmp_path)
    late = [(round(hours(e), 2), e.data["top"]) for e in starts]
    late = [s for s in late if s[0] >= TWIN_SETTLED_H]
    assert late == []


# (fault, start h, end h, hours it may take to be detected, points expected
# among the top contributors). Measured with the shipped bundle (the
# simulated run is repeatable): fan_stop 1.4 h, door_open 0.08 h,
# filter_clog 3.0 h (about a seventh of the fan's cooling lost, which only
# the twin's fan conductance shows: the twin learns the clog as the new
# normal, so its residuals stay at noise), sensor_drift 7.7 h (3.8 K off; to
# the twin a sensor reading high looks like a cabinet that cools worse, so
# the fan conductance it estimates is what moves).
FAULTS = (
    ("fan_stop", 30.0, 33.0, 2.0, {"residual:cabinet_temp_c"}),
    ("door_open", 54.0, 56.0, 0.5, {"door_open"}),
    ("filter_clog", 80.0, 104.0, 6.0, {"hidden:fan_conductance_w_k"}),
    (
        "sensor_drift",
        120.0,
        132.0,
        9.0,
        {"residual:cabinet_temp_c", "hidden:fan_conductance_w_k"},
    ),
)


@pytest.fixture(scope="module")
def faulty_week(tmp_path_factory: pytest.TempPathFactory) -> list[Event]:
    starts, _ = run_week(week_config(default_text()), tmp_path_factory.mktemp("week"))
    return starts


@pytest.mark.parametrize("fault", FAULTS, ids=[f[0] for f in FAULTS])
def test_each_fault_is_detected_during_it(
    faulty_week: list[Event], fault: tuple[str, float, float, float, set[str]]
) -> None:
    name, start_h, end_h, delay_h, expected = fault
    during = [e for e in faulty_week if start_h <= hours(e) < end_h]
    assert during, f"{name} ({start_h} h to {end_h} h) not detected"
    assert hours(during[0]) - start_h <= delay_h, (name, hours(during[0]))
    assert expected & set(during[0].data["top"]), during[0].data
