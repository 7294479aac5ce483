"""A linear Kalman filter for small state vectors, working in preallocated arrays.

Measurements are taken one scalar at a time (``update``), which needs no
matrix inverse and lets a caller skip a point that has no good reading.
A vector measurement with a diagonal noise covariance is the same as its
components applied in turn.
"""

from __future__ import annotations

import numpy as np


class KalmanFilter:
    """State ``x`` (n) and covariance ``P`` (n x n), updated in place.

    The arrays are allocated once; ``predict`` and ``update`` reuse work
    buffers, so a cycle allocates only numpy's small temporaries.
    """

    def __init__(self, x0: np.ndarray, p0: np.ndarray) -> None:
        self.x = np.array(x0, dtype=float)
        n = self.x.shape[0]
        self.P = np.array(p0, dtype=float).reshape(n, n)
        self._fp = np.empty((n, n))
        self._xt = np.empty(n)
        self._ph = np.empty(n)
        self._k = np.empty(n)
        self._outer = np.empty((n, n))

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    def predict(
        self,
        f: np.ndarray | None = None,
        q: np.ndarray | None = None,
        offset: np.ndarray | None = None,
    ) -> None:
        """Advance: ``x = F x + offset``, ``P = F P F' + Q``; F is identity if None."""
        if f is not None:
            np.dot(f, self.x, out=self._xt)
            self.x[:] = self._xt
            np.dot(f, self.P, out=self._fp)
            np.dot(self._fp, f.T, out=self.P)
        if offset is not None:
            self.x += offset
        if q is not None:
            if q.ndim == 1:
                self.P.flat[:: self.n + 1] += q
            else:
                self.P += q

    def innovation(self, h: np.ndarray, y: float, r: float) -> tuple[float, float]:
        """Return the innovation ``y - h x`` and its variance ``h P h' + r``."""
        np.dot(self.P, h, out=self._ph)
        return float(y - h @ self.x), float(h @ self._ph + r)

    def update(
        self, h: np.ndarray, y: float, r: float, *, gate: float | None = None
    ) -> tuple[float, float, bool]:
        """Fold in one scalar measurement ``y = h x + v``, ``var(v) = r``.

        Returns the innovation, its variance, and whether it was applied:
        with ``gate`` set, an innovation more than ``gate`` standard
        deviations away is rejected and leaves the state unchanged.
        """
        nu, s = self.innovation(h, y, r)
        if gate is not None and nu * nu > gate * gate * s:
            return nu, s, False
        np.multiply(self._ph, 1.0 / s, out=self._k)
        self.x += self._k * nu
        np.multiply.outer(self._k, self._ph, out=self._outer)
        self.P -= self._outer
        # Keep P symmetric against rounding; cheap at these sizes.
        self.P += self.P.T
        self.P *= 0.5
        return nu, s, True
