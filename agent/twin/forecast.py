"""What-if forecasts: the contract between the twin and whoever asks it.

The twin implements ``Forecaster``; the predictive control policy, the
``what-if`` upstream command and the dashboard call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Forecast:
    """Trajectories over a horizon.

    ``times_s`` are seconds from now (starting at 0); ``series`` maps a point
    or hidden quantity name to its values at those times, in the point's unit.
    """

    times_s: np.ndarray
    series: Mapping[str, np.ndarray]
    inputs: Mapping[str, float] = field(default_factory=dict)

    def time_to_cross(
        self, name: str, limit: float, *, above: bool = True
    ) -> float | None:
        """Seconds until ``name`` first goes above (or below) ``limit``; None if never.

        The crossing time is interpolated linearly between forecast steps.
        """
        y = np.asarray(self.series[name], dtype=float)
        over = y > limit if above else y < limit
        if not over.any():
            return None
        i = int(np.argmax(over))
        if i == 0:
            return 0.0
        y0, y1 = y[i - 1], y[i]
        t0, t1 = float(self.times_s[i - 1]), float(self.times_s[i])
        frac = (limit - y0) / (y1 - y0) if y1 != y0 else 1.0
        return t0 + frac * (t1 - t0)


class Forecaster(Protocol):
    """Something that can say what happens if inputs or the environment change.

    ``inputs`` maps actuator names to the value held over the horizon (actuators
    not named keep their current value); ``environment`` overrides modelled
    disturbances such as ``ambient_temp_c``. Horizon and step are in seconds.
    """

    def what_if(
        self,
        inputs: Mapping[str, float],
        horizon_s: float,
        *,
        environment: Mapping[str, float] | None = None,
        step_s: float = 60.0,
    ) -> Forecast: ...
