"""The score used when no TFLite runtime is present: mean squared z over a window."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class StatisticalScorer:
    """Score a normalised window by the squares of its values, per feature.

    It needs nothing but numpy, so a board without a TFLite runtime still
    flags readings far from what it learned; it does not see broken
    correlations between features as the model does.
    """

    def score(
        self, window: npt.NDArray[np.floating[Any]]
    ) -> tuple[float, npt.NDArray[np.float32]]:
        """Return the score and each feature's share of it."""
        per_feature = (np.asarray(window, dtype=np.float32) ** 2).mean(axis=0)
        return float(per_feature.sum()), per_feature
