"""The Kalman filter core against the textbook equations, and the daily profile."""

from __future__ import annotations

import numpy as np
import pytest

from agent.twin.kalman import KalmanFilter
from agent.twin.profile import DailyProfile


def test_predict_and_update_follow_the_textbook() -> None:
    # A constant-velocity model measured in position, then in velocity.
    f = np.array([[1.0, 2.0], [0.0, 1.0]])
    q = np.array([[0.1, 0.02], [0.02, 0.05]])
    x0, p0 = np.array([1.0, 0.5]), np.array([[2.0, 0.3], [0.3, 1.0]])
    kf = KalmanFilter(x0, p0)
    kf.predict(f, q, offset=np.array([0.1, 0.0]))

    x = f @ x0 + np.array([0.1, 0.0])
    p = f @ p0 @ f.T + q
    np.testing.assert_allclose(kf.x, x)
    np.testing.assert_allclose(kf.P, p)

    for h, y, r in ((np.array([1.0, 0.0]), 3.0, 0.5), (np.array([0.0, 1.0]), 0.2, 0.1)):
        nu, s, applied = kf.update(h, y, r)
        hm = h.reshape(1, 2)
        nu_ref = y - (hm @ x).item()
        s_ref = (hm @ p @ hm.T + r).item()
        k = p @ hm.T / s_ref
        x = x + (k * nu_ref).ravel()
        p = (np.eye(2) - k @ hm) @ p
        assert applied
        assert nu == pytest.approx(nu_ref)
        assert s == pytest.approx(s_ref)
        np.testing.assert_allclose(kf.x, x)
        np.testing.assert_allclose(kf.P, p)
        np.testing.assert_allclose(kf.P, kf.P.T)


def test_gate_rejects_an_outlier_and_leaves_the_state() -> None:
    kf = KalmanFilter(np.array([0.0]), np.array([[1.0]]))
    h = np.array([1.0])
    nu, s, applied = kf.update(h, 10.0, 1.0, gate=5.0)
    assert (nu, s, applied) == (10.0, 2.0, False)
    assert kf.x[0] == 0.0 and kf.P[0, 0] == 1.0
    _, _, applied = kf.update(h, 7.0, 1.0, gate=5.0)
    assert applied
    assert kf.x[0] == pytest.approx(3.5)
    assert kf.P[0, 0] == pytest.approx(0.5)


def test_diagonal_process_noise() -> None:
    kf = KalmanFilter(np.zeros(3), np.eye(3))
    kf.predict(q=np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(np.diag(kf.P), [2.0, 3.0, 4.0])


def test_daily_profile_learns_a_day_and_interpolates() -> None:
    prof = DailyProfile()
    assert not prof.ready
    for t in range(0, 86_400, 60):
        prof.add(float(t), 10.0 + t / 3600.0)  # the hour of day plus 10
    assert prof.ready
    # Bin 5 holds 15.0 to 15.98 (mean 15.49); half way to bin 6 is 15.99.
    assert prof.at(5.5 * 3600) == pytest.approx(15.49166, abs=1e-4)
    assert prof.at(6.0 * 3600) == pytest.approx(15.99166, abs=1e-4)
    # Midnight wraps: half way between the last bin and the first.
    assert prof.at(0.0) == pytest.approx(0.5 * (33.49166 + 10.49166), abs=1e-4)
    again = DailyProfile()
    again.load(prof.state())
    assert again.at(12_345.0) == prof.at(12_345.0)
    with pytest.raises(ValueError, match="has 2 bins, expected 24"):
        again.load({"values": [1, 2], "counts": [1, 1]})
