"""A linear autoencoder fitted in closed form with numpy (principal components).

Encoding a window onto its ``k`` principal directions and decoding it back
leaves a residual ``r = (I - P P^T)(x - m)``; the squared residual is the
classic Q statistic and the squared, variance-scaled latent code is
Hotelling's T-squared. Both are linear in ``x``, so the whole autoencoder,
with its scores, folds into one dense layer ``y = x K + b`` whose output's
sum of squares is the anomaly score. That layer is what gets quantized.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class LinearAE:
    """A fitted layer ``y = x K + b``: residuals first, then latent scores."""

    kernel: npt.NDArray[np.float32]
    bias: npt.NDArray[np.float32]
    components: int

    def output(self, x: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        """Return the float output for windows ``x`` (n x inputs)."""
        return (np.asarray(x, dtype=np.float32) @ self.kernel + self.bias).astype(
            np.float32
        )

    def score(self, x: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        """Return the float anomaly score of each window."""
        return (self.output(x) ** 2).sum(axis=1)


def windows(z: npt.NDArray[np.floating[Any]], window: int) -> npt.NDArray[np.float32]:
    """Return every window of ``window`` consecutive rows, flattened row by row."""
    n = len(z) - window + 1
    if n <= 0:
        raise ValueError(f"{len(z)} rows are fewer than one window of {window}")
    idx = np.arange(window)[None, :] + np.arange(n)[:, None]
    return np.asarray(z, dtype=np.float32)[idx].reshape(n, -1)


def fit(
    x: npt.NDArray[np.floating[Any]],
    *,
    variance: float = 0.9,
    t2_weight: float = 1.0,
) -> LinearAE:
    """Fit on training windows ``x`` (n x inputs).

    ``variance`` is the share of variance the kept components explain;
    ``t2_weight`` weighs the T-squared part against the Q part (each is
    scaled to average 1 on the training windows).
    """
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        raise ValueError(f"need at least 2 training windows, got {len(x)}")
    m = x.mean(axis=0)
    c = x - m
    cov = c.T @ c / (len(x) - 1)
    lam, vec = np.linalg.eigh(cov)
    lam, vec = lam[::-1].clip(min=0), vec[:, ::-1]
    total = lam.sum()
    k = 1 if total <= 0 else int(np.searchsorted(np.cumsum(lam) / total, variance) + 1)
    k = min(k, x.shape[1] - 1) if x.shape[1] > 1 else 1
    p = vec[:, :k]

    residual = np.eye(x.shape[1]) - p @ p.T
    q_mean = max(float(((c @ residual) ** 2).sum(axis=1).mean()), 1e-12)
    lam_k = np.maximum(lam[:k], 1e-12)
    parts = [residual / np.sqrt(q_mean)]
    if t2_weight > 0:
        parts.append(p / np.sqrt(lam_k) * np.sqrt(t2_weight / k))
    kernel = np.concatenate(parts, axis=1)
    bias = -m @ kernel
    return LinearAE(kernel.astype(np.float32), bias.astype(np.float32), k)
