"""A simulated week of the demo plant with each fan policy, through the real agent.

The band is 20 to 38 °C; the week includes the demo's faults (the fan stops
for 3 h at hour 30, the door opens, the filter clogs, a sensor drifts). The
figures below are what the run gives at a 120 s poll period; the bench
(``edgetwin bench control``) reports them at 30 s.
"""

from __future__ import annotations

import pytest

from agent.config import default_config
from agent.control.simulate import BAND_C, DEMO_FAN_POLICIES, run_week


@pytest.mark.parametrize("policy", DEMO_FAN_POLICIES, ids=lambda p: p.kind)
def test_week_holds_the_band_with_few_switchings(policy) -> None:
    r = run_week(
        default_config(), fan_policy=policy, days=7, period_s=120, band_c=BAND_C
    )
    # Without control the cabinet runs 24 K above ambient, far over 38 °C
    # every afternoon; the stopped fan (3 h of 168) is the one time no
    # setting can hold the band.
    assert r.in_band_pct >= 95.0, r.row()
    assert r.max_c > 38.0  # the fan failure is visible
    assert r.min_c >= 20.0 - 0.5, r.row()
    # Few switchings: at most a few per day for the heater, the fan's
    # bounded by its envelope (12 per hour would be 2016 a week).
    assert r.switchings["heater"] <= 14, r.row()
    assert r.switchings["fan"] <= 200, r.row()
    print(r.row())
