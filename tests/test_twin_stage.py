"""The twin's configuration, its stage in the agent, and what it persists."""

from __future__ import annotations

import json
import logging
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from agent.clock import SimClock
from agent.config import default_text, parse_config
from agent.errors import CommandError, ConfigError
from agent.pipeline import Frame
from agent.runtime import Agent
from agent.store.store import Store
from agent.twin.stage import META_KEY
from agent.twin.thermal import ThermalTwin
from tests.test_twin_harness import (
    START,
    Recorder,
    plant_config,
    run_plant,
    thermal_of,
    twin_of,
)


def test_thermal_section_is_read_with_defaults(tmp_path: Path) -> None:
    cfg = parse_config(plant_config(tmp_path))
    assert cfg.twin.kind == "thermal"
    assert cfg.twin.save_interval_s == 300
    th = cfg.twin.thermal
    assert (th.temperature, th.ambient, th.power, th.heater, th.fan) == (
        "cabinet_temp_c",
        "ambient_temp_c",
        "power_w",
        "heater",
        "fan",
    )
    assert th.temperature_noise_c == 0.05
    assert th.heat_capacity_j_k == 10_000.0
    assert th.window_s == 900.0


@pytest.mark.parametrize(
    ("twin", "problem"),
    [
        ('kind = "kalman"', "twin.kind: 'kalman' is not one of none, thermal, linear"),
        ('kind = "thermal"', "twin.thermal: is required when kind is 'thermal'"),
        (
            'kind = "linear"\n[twin.linear]\nstep_s = 10',
            "twin.linear.outputs: is required when kind is 'linear' "
            "(name 1 or more points)",
        ),
        (
            'kind = "thermal"\n[twin.thermal]\ntemperature = "a"\nambient = "b"\n'
            'power = "c"\nwindow_s = 5',
            "twin.thermal.window_s: 5 is out of range (allowed 10 to 86400 s)",
        ),
    ],
)
def test_bad_twin_sections_are_reported(
    tmp_path: Path, twin: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(plant_config(tmp_path, twin="[twin]\n" + twin), "site.toml")
    assert f"site.toml: {problem}" in exc.value.problems


def test_names_that_are_not_points_or_actuators_are_reported(tmp_path: Path) -> None:
    twin = """
[twin]
kind = "thermal"
[twin.thermal]
temperature = "cabinet_temp"
ambient = "ambient_temp_c"
power = "power_w"
heater = "heater"
fan = "blower"
"""
    with pytest.raises(ConfigError) as exc:
        parse_config(plant_config(tmp_path, twin=twin), "site.toml")
    assert exc.value.problems == [
        "site.toml: twin.thermal.temperature: 'cabinet_temp' is not a configured point "
        "(known: ambient_temp_c, cabinet_temp_c, power_w)",
        "site.toml: twin.thermal.fan: 'blower' is not a configured actuator "
        "(known: fan, heater)",
    ]


def test_what_if_errors_name_the_input(tmp_path: Path) -> None:
    cfg = parse_config(plant_config(tmp_path))
    twin = ThermalTwin(cfg.twin.thermal)
    with pytest.raises(
        CommandError, match="has no recent temperature and ambient readings"
    ):
        twin.what_if({}, 600.0)
    agent, _ = run_plant(tmp_path, 0.5)
    stage = twin_of(agent)
    with pytest.raises(CommandError) as exc:
        stage.what_if({"pump": 1.0}, 600.0)
    assert str(exc.value) == (
        "what-if: input 'pump' is not an actuator of the thermal twin "
        "(allowed: heater, fan)"
    )
    with pytest.raises(CommandError) as exc:
        stage.what_if({}, 600.0, environment={"humidity": 50.0})
    assert str(exc.value) == (
        "what-if: environment 'humidity' is not modelled "
        "(allowed: ambient_temp_c, load_w)"
    )
    with pytest.raises(
        CommandError, match="horizon_s -5 and step_s 60 must be above 0"
    ):
        stage.what_if({}, -5.0)


@dataclass
class MetaWatcher:
    """A last stage that reads the saved twin state from the database each cycle."""

    store: Store
    name: str = "meta-watcher"
    saved: list[float] = field(default_factory=list)

    def process(self, frame: Frame) -> None:
        text = self.store.meta(META_KEY)
        if text is not None:
            ts = json.loads(text)["saved_ts"]
            if not self.saved or self.saved[-1] != ts:
                self.saved.append(ts)

    def close(self) -> None:
        return None


def test_state_is_saved_every_save_interval_and_at_stop(tmp_path: Path) -> None:
    cfg = parse_config(plant_config(tmp_path))
    agent = Agent(cfg, SimClock(start=START))
    watcher = MetaWatcher(agent.store)
    agent.stages.append(watcher)
    agent.run(3600.0)

    assert watcher.saved == [START + 300.0 * k for k in range(1, 12)]
    with Store(tmp_path / "edgetwin.db") as store:
        text = store.meta(META_KEY)
    assert text is not None
    data = json.loads(text)
    assert data["kind"] == "thermal" and data["version"] == 1
    assert data["saved_ts"] == START + 3590.0  # the stop, after the last cycle
    assert data["state"]["mapping"]["temperature"] == "cabinet_temp_c"


def test_state_of_another_mapping_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_plant(tmp_path, 0.5)
    other = plant_config(tmp_path).replace(
        'power = "power_w"', 'power = "ambient_temp_c"'
    )
    with caplog.at_level(logging.WARNING, logger="agent.twin.stage"):
        agent = Agent(parse_config(other), SimClock(start=START))
    try:
        assert thermal_of(agent).temperature_c is None
    finally:
        agent.shutdown("test over")
    assert any(
        "twin: ignoring its saved state, starting afresh: it maps" in r.getMessage()
        for r in caplog.records
    )


def test_bench_twin_prints_its_figures(
    cli: Callable[..., CompletedProcess[str]], tmp_path: Path
) -> None:
    figures = tmp_path / "twin.json"
    r = cli("bench", "twin", "--cycles", "3000", "--json", str(figures))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "twin benchmark"
    assert "what-if, 2 h at 60 s steps" in r.stdout
    data = json.loads(figures.read_text())
    assert data["cycles"] == 3000
    assert 0 < data["cycle_p50_us"] <= data["cycle_p99_us"]


def test_the_default_configuration_runs_the_thermal_twin(tmp_path: Path) -> None:
    text = default_text().replace(
        'state_dir = "/var/lib/edgetwin"', f'state_dir = "{tmp_path}"'
    )
    agent = Agent(parse_config(text, "<built-in default>"), SimClock(start=START))
    recorder = Recorder()
    agent.stages.append(recorder)
    agent.run(2 * 3600.0)

    assert set(recorder.estimates[-1]) >= {"cabinet_temp_c", "power_w"}
    z = recorder.z("cabinet_temp_c", 1.0, 2.0)
    assert len(z) > 3000
    assert statistics.fmean(v * v for v in z) ** 0.5 < 2.0
    hidden = recorder.hidden[-1]
    # The demo's controller keeps the fan mostly off, so what the data pins
    # down is the wall's resistance (1 / UA = 0.2 K/W) and the time constant
    # C / UA = 4000 s.
    assert hidden["thermal_resistance_k_w"] == pytest.approx(0.2, rel=0.05)
    assert hidden["time_constant_s"] == pytest.approx(4000.0, rel=0.1)
    # The heater's power is reported only if the heater ever switched on.
    with Store(tmp_path / "edgetwin.db") as store:
        heated = store.conn.execute(
            "SELECT COUNT(*) FROM actuations WHERE actuator = 'heater' AND value > 0"
        ).fetchone()[0]
    assert ("heater_w" in hidden) == (heated > 0)
