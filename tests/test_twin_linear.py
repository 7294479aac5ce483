"""The linear twin: ARX least squares, tracking, what-if, and on the plant."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

from agent.config.twin import LinearConfig
from agent.errors import CommandError
from agent.pipeline import Estimate
from agent.twin.linear import ArxIdentifier, LinearTwin
from tests.test_twin_harness import run_plant, twin_of

A = np.array([[0.9, 0.05], [-0.02, 0.8]])
B = np.array([[0.5, 0.0], [0.1, 0.3]])
C = np.array([0.2, -0.1])
START = 1_767_225_600.0


def simulate(
    u: np.ndarray, y0: np.ndarray, noise: float = 0.0, seed: int = 0
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.empty((len(u) + 1, 2))
    y[0] = y0
    for k in range(len(u)):
        y[k + 1] = A @ y[k] + B @ u[k] + C + rng.normal(0.0, noise, 2) * (noise > 0)
    return y


def test_arx_is_identified_exactly_from_noise_free_data() -> None:
    u = np.random.default_rng(1).uniform(-1, 1, (400, 2))
    y = simulate(u, np.array([1.0, -2.0]))
    ident = ArxIdentifier(outputs=2, inputs=2)
    for k in range(len(u)):
        ident.add(y[k], u[k], y[k + 1])
    model = ident.solve()

    np.testing.assert_allclose(model.a, A, atol=1e-6)
    np.testing.assert_allclose(model.b, B, atol=1e-6)
    np.testing.assert_allclose(model.c, C, atol=1e-6)
    assert np.abs(model.noise_cov).max() < 1e-9

    # Held-out data from other inputs and another start: one step ahead, exact.
    u2 = np.random.default_rng(2).uniform(-2, 2, (200, 2))
    y2 = simulate(u2, np.array([-3.0, 4.0]))
    pred = np.array([model.predict(y2[k], u2[k]) for k in range(len(u2))])
    np.testing.assert_allclose(pred, y2[1:], atol=1e-6)


def test_too_few_samples_is_an_error() -> None:
    ident = ArxIdentifier(outputs=2, inputs=2)
    ident.add(np.zeros(2), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="1 samples are too few to fit 5 terms"):
        ident.solve()


def feed(
    twin: LinearTwin, y: np.ndarray, u: np.ndarray, t0: float, step_s: float
) -> list[dict[str, Estimate]]:
    out = []
    for k in range(len(u)):
        values = {"y1": y[k][0], "y2": y[k][1], "heater": u[k][0], "amb": u[k][1]}
        out.append(twin.observe(t0 + k * step_s, values))
    return out


def test_linear_twin_learns_then_tracks_and_forecasts() -> None:
    cfg = LinearConfig(
        outputs=("y1", "y2"), inputs=("heater", "amb"), step_s=10.0, learn_h=1.0
    )
    twin = LinearTwin(cfg, actuators=("heater",))
    u = np.random.default_rng(3).uniform(-1, 1, (900, 2))
    y = simulate(u, np.zeros(2), noise=0.05, seed=4)
    results = feed(twin, y, u, START, 10.0)

    # Learning for an hour (360 steps of 10 s), then estimates every step.
    assert twin.learned
    assert all(not r for r in results[:360])
    assert all(set(r) == {"y1", "y2"} for r in results[362:])
    assert twin.model is not None
    np.testing.assert_allclose(twin.model.a, A, atol=0.03)
    np.testing.assert_allclose(twin.model.noise_cov, 0.05**2 * np.eye(2), atol=5e-4)
    z = [r["y1"].z for r in results[362:]]
    rms = statistics.fmean(v * v for v in z) ** 0.5
    assert 0.85 < rms < 1.15

    # What-if: hold the inputs and run the identified model from the present state.
    assert twin.kf is not None
    forecast = twin.what_if(
        {"heater": 1.0}, 600.0, environment={"amb": -0.5}, step_s=30
    )
    x = twin.kf.x.copy()
    expected = [x.copy()]
    for _ in range(60):
        x = twin.model.a @ x + twin.model.b @ np.array([1.0, -0.5]) + twin.model.c
        expected.append(x.copy())
    np.testing.assert_allclose(forecast.series["y1"], [e[0] for e in expected[::3]])
    assert forecast.times_s[-1] == 600.0
    assert forecast.inputs == {"heater": 1.0}


def test_what_if_rejects_unknown_names_and_learning() -> None:
    cfg = LinearConfig(outputs=("y1", "y2"), inputs=("heater", "amb"), learn_h=1.0)
    twin = LinearTwin(cfg, actuators=("heater",))
    with pytest.raises(CommandError, match="still learning"):
        twin.what_if({}, 60.0)
    u = np.random.default_rng(3).uniform(-1, 1, (400, 2))
    feed(twin, simulate(u, np.zeros(2), noise=0.01), u, START, 10.0)
    with pytest.raises(CommandError) as exc:
        twin.what_if({"amb": 1.0}, 60.0)
    assert str(exc.value) == (
        "what-if: 'amb' is not an input of the linear twin (allowed: heater)"
    )


def test_state_round_trips() -> None:
    cfg = LinearConfig(outputs=("y1", "y2"), inputs=("heater", "amb"), learn_h=0.5)
    twin = LinearTwin(cfg, actuators=("heater",))
    u = np.random.default_rng(5).uniform(-1, 1, (300, 2))
    feed(twin, simulate(u, np.zeros(2), noise=0.01), u, START, 10.0)
    again = LinearTwin(cfg, actuators=("heater",))
    again.load(twin.state())
    assert again.model is not None and twin.model is not None
    np.testing.assert_array_equal(again.model.a, twin.model.a)
    np.testing.assert_array_equal(
        again.what_if({}, 300.0).series["y2"], twin.what_if({}, 300.0).series["y2"]
    )
    other = LinearTwin(LinearConfig(outputs=("y1",), inputs=("amb",)))
    with pytest.raises(ValueError, match="it maps"):
        other.load(twin.state())


LINEAR_TWIN = """
[twin]
kind = "linear"
[twin.linear]
outputs = ["cabinet_temp_c"]
inputs = ["heater", "fan", "ambient_temp_c", "power_w"]
step_s = 60
learn_h = 12
"""


def test_linear_twin_on_the_plant(tmp_path: Path) -> None:
    agent, rec = run_plant(tmp_path, 18.0, twin=LINEAR_TWIN)
    z = rec.z("cabinet_temp_c", 12.2, 18.0)
    residuals = [
        e["cabinet_temp_c"].residual
        for t, e in zip(rec.ts, rec.estimates, strict=True)
        if t > START + 12.2 * 3600 and "cabinet_temp_c" in e
    ]
    # One estimate a minute after twelve hours of learning.
    assert 340 <= len(z) <= 350
    rms_k = statistics.fmean(r * r for r in residuals) ** 0.5
    assert rms_k < 0.3, rms_k
    # Heater on and fan off warms the cabinet; the forecast says so.
    f = twin_of(agent).what_if({"heater": 1, "fan": 0}, 3600.0)
    temps = f.series["cabinet_temp_c"]
    assert temps[-1] > temps[0] + 5.0
