"""The thermal twin on the simulated plant, run by the real agent on a SimClock."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

from agent.config.twin import ThermalConfig
from agent.errors import CommandError
from agent.runtime import Agent
from agent.twin.thermal import ThermalInputs, ThermalTwin
from drivers.sim.plant import Plant, PlantParams
from tests.test_twin_harness import (
    FAN_ALWAYS_ON,
    START,
    Recorder,
    copy_plant,
    plant_of,
    run_plant,
    thermal_of,
    twin_of,
)

TRUE = PlantParams()


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Agent, Recorder, Path]:
    # 26 h: a whole day for the daily profiles, and the parameters learned
    # from first guesses that are off by a factor of two.
    state_dir = tmp_path_factory.mktemp("thermal")
    agent, rec = run_plant(state_dir, 26.0)
    return agent, rec, state_dir


def test_parameters_converge_to_the_plant(
    learned: tuple[Agent, Recorder, Path],
) -> None:
    _, rec, _ = learned
    # From the configured first guesses (C 10000 J/K, UA 10 W/K, G 10 W/K,
    # heater 100 W: off by a factor of two) to within 3 % in 6 hours of
    # excitation, and staying there.
    # Nothing is reported before the data has pinned it down.
    first = rec.hidden_at(0.1)
    assert set(first) == {"load_w"}
    for t_h in (6.0, 12.0, 24.0, 25.9):
        h = rec.hidden_at(t_h)
        assert h["heat_capacity_j_k"] == pytest.approx(TRUE.heat_capacity_j_k, rel=0.03)
        assert h["ua_w_k"] == pytest.approx(TRUE.ua_w_k, rel=0.03)
        assert h["fan_conductance_w_k"] == pytest.approx(
            TRUE.fan_conductance_w_k, rel=0.03
        )
        assert h["heater_w"] == pytest.approx(TRUE.heater_w, rel=0.01)
        if t_h >= 12.0:
            assert h["fan_power_w"] == pytest.approx(TRUE.fan_power_w, rel=0.10)


def test_residuals_are_sensor_noise_once_learned(
    learned: tuple[Agent, Recorder, Path],
) -> None:
    _, rec, _ = learned
    for point in ("cabinet_temp_c", "power_w"):
        z = rec.z(point, 12.0, 26.0)
        assert len(z) > 4000
        rms = statistics.fmean(v * v for v in z) ** 0.5
        assert 0.8 < rms < 1.3, (point, rms)
        assert max(abs(v) for v in z) < 5.0
    # The expected value is the plant's temperature within its sensor noise.
    last = rec.estimates[-1]["cabinet_temp_c"]
    assert abs(last.residual) < 0.25


@pytest.mark.parametrize(("heater", "fan"), [(0, 0.0), (1, 0.0), (0, 1.0)])
def test_what_if_matches_the_plant_run_ahead(
    learned: tuple[Agent, Recorder, Path], heater: int, fan: float
) -> None:
    agent, _, _ = learned
    twin = twin_of(agent)
    plant = copy_plant(plant_of(agent))
    assert plant.state is not None
    t0 = plant.state.t_s
    assert thermal_of(agent).t_last == t0

    forecast = twin.what_if({"heater": heater, "fan": fan}, 7200.0, step_s=60.0)

    # The same two hours on a noise-free copy of the plant.
    plant.set_heater(t0, bool(heater))
    plant.set_fan(t0, fan)
    truth = []
    for t in forecast.times_s:
        plant.advance_to(t0 + float(t))
        truth.append(plant.state.cabinet_c)
    error = np.abs(np.asarray(forecast.series["cabinet_temp_c"]) - np.asarray(truth))
    # Two hours ahead, 10 to 30 K of change: within 0.3 K all along.
    assert error.max() < 0.3, error.max()
    assert forecast.times_s[-1] == 7200.0
    assert forecast.inputs == {"heater": float(heater), "fan": fan}


def test_time_to_cross_matches_the_plant(learned: tuple[Agent, Recorder, Path]) -> None:
    agent, _, _ = learned
    twin = twin_of(agent)
    plant = copy_plant(plant_of(agent))
    assert plant.state is not None
    t0 = plant.state.t_s
    limit_c = plant.state.cabinet_c + 3.0

    forecast = twin.what_if({"heater": 1, "fan": 0}, 4 * 3600.0, step_s=30.0)
    predicted_s = forecast.time_to_cross("cabinet_temp_c", limit_c)

    plant.set_heater(t0, True)
    plant.set_fan(t0, 0.0)
    t = t0
    while plant.state.cabinet_c < limit_c:
        t += 5.0
        plant.advance_to(t)
    assert predicted_s is not None
    assert predicted_s == pytest.approx(t - t0, abs=60.0)


def test_ambient_override_and_profile(learned: tuple[Agent, Recorder, Path]) -> None:
    agent, _, _ = learned
    twin = twin_of(agent)
    hot = twin.what_if({}, 3600.0, environment={"ambient_temp_c": 40.0})
    assert set(hot.series["ambient_temp_c"]) == {40.0}
    # Following the learned profile: the plant's ambient at 02:00..04:00 UTC.
    plant = plant_of(agent)
    follow = twin.what_if({}, 7200.0, step_s=600.0)
    t0 = thermal_of(agent).t_last
    assert t0 is not None
    truth = [plant.ambient_c(t0 + float(t)) for t in follow.times_s]
    assert np.abs(np.asarray(follow.series["ambient_temp_c"]) - truth).max() < 0.2


def test_state_survives_a_restart(learned: tuple[Agent, Recorder, Path]) -> None:
    agent, _, state_dir = learned
    before = twin_of(agent).twin.hidden()
    forecast = twin_of(agent).what_if({"fan": 0}, 3600.0)

    again = Agent(agent.config, agent.clock)
    try:
        restored = twin_of(again)
        assert restored.twin.hidden() == before
        f2 = restored.what_if({"fan": 0}, 3600.0)
        np.testing.assert_array_equal(
            f2.series["cabinet_temp_c"], forecast.series["cabinet_temp_c"]
        )
    finally:
        again.shutdown("test over")
    assert (state_dir / "edgetwin.db").exists()


def test_faults_move_residuals_and_hidden_quantities(tmp_path: Path) -> None:
    faults = (
        '{ kind = "fan_stop", start_h = 8, duration_h = 1 },'
        '{ kind = "door_open", start_h = 10, duration_h = 1 },'
        '{ kind = "filter_clog", start_h = 12, duration_h = 12, magnitude = 0.6 }'
    )
    _, rec = run_plant(tmp_path, 21.0, pattern=FAN_ALWAYS_ON, faults=faults)

    quiet = [abs(v) for v in rec.z("cabinet_temp_c", 4.0, 8.0)]
    assert max(quiet) < 5.0
    # Fan stopped: the cabinet warms where the twin expects cooling.
    assert max(rec.z("cabinet_temp_c", 8.0, 9.0)) > 10.0
    assert min(rec.z("power_w", 8.0, 8.1)) < -8.0
    # Door open: more heat loss than the twin knows of.
    assert min(rec.z("cabinet_temp_c", 10.0, 11.0)) < -10.0

    # Short faults are not learned as the asset's normal...
    before = rec.hidden_at(12.0)
    assert before["ua_w_k"] == pytest.approx(TRUE.ua_w_k, rel=0.10)
    assert before["fan_conductance_w_k"] == pytest.approx(
        TRUE.fan_conductance_w_k, rel=0.10
    )
    # ...but a clogging filter is: at its worst (from 18 h) the fan moves 40 %
    # of the heat it did, and the estimate follows within 15 % by 21 h.
    after = rec.hidden_at(20.9)
    assert after["fan_conductance_w_k"] == pytest.approx(
        0.4 * TRUE.fan_conductance_w_k, rel=0.15
    )
    assert after["ua_w_k"] == pytest.approx(TRUE.ua_w_k, rel=0.1)
    assert after["thermal_resistance_k_w"] > before["thermal_resistance_k_w"]


def test_an_ambient_outage_pauses_the_temperature_estimate() -> None:
    cfg = ThermalConfig(
        heater="heater", fan="fan", temperature_noise_c=0.05, stale_s=60
    )
    twin = ThermalTwin(cfg)
    plant = Plant(seed=2)
    seen: dict[float, set[str]] = {}
    for k in range(0, 7200, 10):
        t = START + k
        s = plant.signals(t)
        ambient_lost = 3600 <= k < 3900
        est = twin.observe(
            ThermalInputs(
                ts=t,
                temperature_c=s["cabinet_temp_c"],
                ambient_c=None if ambient_lost else s["ambient_temp_c"],
                power_w=s["power_w"],
                heater=0.0,
                fan=0.0,
            )
        )
        seen[k] = set(est)
    both = {"cabinet_temp_c", "power_w"}
    assert seen[3590] == both
    # Held for stale_s (60 s), then no temperature estimate until ambient returns.
    assert seen[3650] == both and seen[3660] == {"power_w"}
    assert seen[3890] == {"power_w"}
    assert seen[3900] == {"power_w"}  # the first reading back restarts the filter
    assert seen[3910] == both
    with pytest.raises(CommandError, match="no recent temperature and ambient"):
        ThermalTwin(cfg).what_if({}, 60.0)
