"""The identified linear twin, for assets without a physical template.

During a learning period the twin samples its outputs ``y`` and inputs
``u`` every ``step_s`` and fits, by least squares, the ARX model::

    y[k+1] = A y[k] + B u[k] + c + e[k]

accumulating only the normal equations, so memory does not grow with the
learning period. Afterwards the model runs as a Kalman filter whose
process noise is the fit's residual covariance: its prediction is what the
outputs should read at the next step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.config.twin import LinearConfig
from agent.errors import CommandError
from agent.pipeline import Estimate
from agent.twin.forecast import Forecast
from agent.twin.kalman import KalmanFilter


@dataclass(frozen=True)
class ArxModel:
    """``y[k+1] = A y[k] + B u[k] + c``; ``noise_cov`` is the residuals' covariance."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    noise_cov: np.ndarray
    samples: int

    def predict(self, y: np.ndarray, u: np.ndarray) -> np.ndarray:
        return self.a @ y + self.b @ u + self.c


class ArxIdentifier:
    """Accumulate ``(y[k], u[k]) -> y[k+1]`` pairs and solve for an ``ArxModel``."""

    def __init__(self, outputs: int, inputs: int) -> None:
        self.n, self.m = outputs, inputs
        d = outputs + inputs + 1
        self.xtx = np.zeros((d, d))
        self.xty = np.zeros((d, outputs))
        self.yty = np.zeros((outputs, outputs))
        self.count = 0
        self._phi = np.empty(d)

    def add(self, y: np.ndarray, u: np.ndarray, y_next: np.ndarray) -> None:
        phi = self._phi
        phi[: self.n], phi[self.n : self.n + self.m], phi[-1] = y, u, 1.0
        self.xtx += np.outer(phi, phi)
        self.xty += np.outer(phi, y_next)
        self.yty += np.outer(y_next, y_next)
        self.count += 1

    @property
    def enough(self) -> bool:
        return self.count > 2 * self.xtx.shape[0]

    def solve(self) -> ArxModel:
        """Least-squares fit; raises ValueError with too few samples."""
        if not self.enough:
            raise ValueError(
                f"{self.count} samples are too few to fit {self.xtx.shape[0]} terms"
            )
        # Scale columns so that the solve does not depend on units.
        scale = np.sqrt(np.maximum(np.diag(self.xtx), 1e-300))
        xtx = self.xtx / np.outer(scale, scale)
        theta, *_ = np.linalg.lstsq(xtx, self.xty / scale[:, None], rcond=None)
        theta /= scale[:, None]
        sse = (
            self.yty
            - self.xty.T @ theta
            - theta.T @ self.xty
            + theta.T @ self.xtx @ theta
        )
        dof = max(1, self.count - self.xtx.shape[0])
        n, m = self.n, self.m
        return ArxModel(
            a=theta[:n].T.copy(),
            b=theta[n : n + m].T.copy(),
            c=theta[-1].copy(),
            noise_cov=0.5 * (sse + sse.T) / dof,
            samples=self.count,
        )

    def state(self) -> dict[str, Any]:
        return {
            "xtx": self.xtx.tolist(),
            "xty": self.xty.tolist(),
            "yty": self.yty.tolist(),
            "count": self.count,
        }

    def load(self, data: Mapping[str, Any]) -> None:
        self.xtx[:] = np.asarray(data["xtx"], dtype=float)
        self.xty[:] = np.asarray(data["xty"], dtype=float)
        self.yty[:] = np.asarray(data["yty"], dtype=float)
        self.count = int(data["count"])


class LinearTwin:
    """Learn an ARX model for ``learn_h``, then track and forecast with it."""

    def __init__(self, config: LinearConfig, actuators: Sequence[str] = ()) -> None:
        self.config = config
        self.outputs = tuple(config.outputs)
        self.inputs = tuple(config.inputs)
        self.actuator_inputs = frozenset(n for n in self.inputs if n in set(actuators))
        self.identifier = ArxIdentifier(len(self.outputs), len(self.inputs))
        self.model: ArxModel | None = None
        self.kf: KalmanFilter | None = None
        self.learn_start: float | None = None
        self.next_step: float | None = None
        self.prev: tuple[np.ndarray, np.ndarray] | None = None
        self.u_now: np.ndarray | None = None
        r = config.measurement_noise**2
        self._r = max(r, 1e-12)
        self._h = np.eye(len(self.outputs))

    @property
    def learned(self) -> bool:
        return self.model is not None

    def hidden(self) -> dict[str, float]:
        return {}

    def observe(
        self, ts: float, values: Mapping[str, float | None]
    ) -> dict[str, Estimate]:
        """Take the values of outputs and inputs; act once per step."""
        step = self.config.step_s
        if self.next_step is None or ts - self.next_step > step:
            # Start, or a stall longer than a step: start a fresh grid.
            self.next_step, self.prev = ts, None
        if ts < self.next_step:
            return {}
        self.next_step += step

        y = [values.get(n) for n in self.outputs]
        u = [values.get(n) for n in self.inputs]
        if any(v is None for v in y) or any(v is None for v in u):
            self.prev = None
            return {}
        y_now = np.array(y, dtype=float)
        u_now = np.array(u, dtype=float)
        prev, self.prev, self.u_now = self.prev, (y_now, u_now), u_now

        if self.model is None:
            self._learn(ts, prev, y_now)
            return {}
        if prev is None or self.kf is None:
            self._start_filter(y_now)
            return {}
        return self._track(prev[1], y_now)

    def _learn(
        self, ts: float, prev: tuple[np.ndarray, np.ndarray] | None, y_now: np.ndarray
    ) -> None:
        if self.learn_start is None:
            self.learn_start = ts
        if prev is not None:
            self.identifier.add(prev[0], prev[1], y_now)
        if (
            ts - self.learn_start >= self.config.learn_h * 3600.0
            and self.identifier.enough
        ):
            self.model = self.identifier.solve()
            self._start_filter(y_now)

    def _start_filter(self, y_now: np.ndarray) -> None:
        assert self.model is not None
        self.kf = KalmanFilter(
            y_now, self.model.noise_cov + self._r * np.eye(len(y_now))
        )

    def _track(self, u_prev: np.ndarray, y_now: np.ndarray) -> dict[str, Estimate]:
        kf, model = self.kf, self.model
        assert kf is not None and model is not None
        kf.predict(model.a, model.noise_cov, model.b @ u_prev + model.c)
        expected = kf.x.copy()
        out = {}
        for i, name in enumerate(self.outputs):
            nu = float(y_now[i] - expected[i])
            s = float(kf.P[i, i] + self._r)
            out[name] = Estimate(
                expected=float(expected[i]), residual=nu, z=nu / math.sqrt(s)
            )
        for i in range(len(self.outputs)):
            kf.update(self._h[i], float(y_now[i]), self._r)
        return out

    def what_if(
        self,
        inputs: Mapping[str, float],
        horizon_s: float,
        *,
        environment: Mapping[str, float] | None = None,
        step_s: float = 60.0,
    ) -> Forecast:
        """Run the identified model forward with inputs held.

        ``inputs`` may name the model's actuator inputs and ``environment``
        its point inputs; the rest keep their present values. Raises
        ``CommandError`` for an unknown name, a horizon or step that is not
        positive, or a model still learning.
        """
        if self.model is None or self.kf is None or self.u_now is None:
            raise CommandError("what-if: the linear twin is still learning its model")
        if not horizon_s > 0 or not step_s > 0:
            raise CommandError(
                f"what-if: horizon_s {horizon_s:g} and step_s {step_s:g} "
                "must be above 0"
            )
        u = self.u_now.copy()
        points = [n for n in self.inputs if n not in self.actuator_inputs]
        for given, allowed in (
            (inputs, sorted(self.actuator_inputs)),
            (environment or {}, points),
        ):
            for name, value in given.items():
                if name not in allowed:
                    raise CommandError(
                        f"what-if: {name!r} is not an input of the linear twin "
                        f"(allowed: {', '.join(allowed) or 'none'})"
                    )
                u[self.inputs.index(name)] = float(value)

        # Run at the model's own step, then sample at the asked step.
        model_step = self.config.step_s
        k = math.ceil(horizon_s / model_step - 1e-9)
        traj = np.empty((k + 1, len(self.outputs)))
        traj[0] = self.kf.x
        drive = self.model.b @ u + self.model.c
        for i in range(k):
            traj[i + 1] = self.model.a @ traj[i] + drive
        model_times = np.arange(k + 1) * model_step
        n = math.ceil(horizon_s / step_s - 1e-9)
        times = np.minimum(np.arange(n + 1) * step_s, horizon_s)
        series = {
            name: np.interp(times, model_times, traj[:, i])
            for i, name in enumerate(self.outputs)
        }
        used = {n: float(u[self.inputs.index(n)]) for n in self.actuator_inputs}
        return Forecast(times_s=times, series=series, inputs=used)

    def mapping(self) -> dict[str, Any]:
        return {
            "outputs": list(self.outputs),
            "inputs": list(self.inputs),
            "step_s": self.config.step_s,
        }

    def state(self) -> dict[str, Any]:
        """Everything learned, as plain JSON-able values."""
        m = self.model
        return {
            "mapping": self.mapping(),
            "identifier": self.identifier.state(),
            "learn_start": self.learn_start,
            "model": None
            if m is None
            else {
                "a": m.a.tolist(),
                "b": m.b.tolist(),
                "c": m.c.tolist(),
                "noise_cov": m.noise_cov.tolist(),
                "samples": m.samples,
            },
            "x": None if self.kf is None else self.kf.x.tolist(),
            "p": None if self.kf is None else self.kf.P.tolist(),
            "u": None if self.u_now is None else self.u_now.tolist(),
        }

    def load(self, data: Mapping[str, Any]) -> None:
        """Restore what ``state`` returned; raises ValueError when it does not fit."""
        if data.get("mapping") != self.mapping():
            raise ValueError(
                f"it maps {data.get('mapping')}, the configuration {self.mapping()}"
            )
        self.identifier.load(data["identifier"])
        self.learn_start = data["learn_start"]
        m = data["model"]
        if m is not None:
            self.model = ArxModel(
                a=np.asarray(m["a"], dtype=float),
                b=np.asarray(m["b"], dtype=float).reshape(
                    len(self.outputs), len(self.inputs)
                ),
                c=np.asarray(m["c"], dtype=float),
                noise_cov=np.asarray(m["noise_cov"], dtype=float),
                samples=int(m["samples"]),
            )
        if data["x"] is not None:
            self.kf = KalmanFilter(np.asarray(data["x"]), np.asarray(data["p"]))
        if data["u"] is not None:
            self.u_now = np.asarray(data["u"], dtype=float)
