"""Run a bundle's int8 model: quantize a window, invoke, dequantize, score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.detector.bundle import Metadata, read_bundle
from agent.detector.errors import ModelError
from agent.detector.quantize import dequantize, quantize
from agent.detector.runtime import RUNTIMES, open_interpreter


class Int8Model:
    """A loaded bundle, ready to score normalised windows.

    Raises ``ModelError`` when the bundle is wrong (see ``read_bundle``) or
    the model's tensors do not fit the metadata (input not int8, input
    shape not ``[1, window * features]``), and ``RuntimeMissingError`` when no
    TFLite runtime can be imported.
    """

    def __init__(self, directory: Path, runtimes: tuple[str, ...] = RUNTIMES) -> None:
        model_path, meta = read_bundle(directory)
        self.meta: Metadata = meta
        self.interpreter: Any
        self.interpreter, self.runtime = open_interpreter(model_path, runtimes)
        inp = self.interpreter.get_input_details()
        outp = self.interpreter.get_output_details()
        if len(inp) != 1 or len(outp) != 1:
            raise ModelError(
                f"{model_path}: expected one input and one output tensor, "
                f"got {len(inp)} and {len(outp)}"
            )
        self._in, self._out = inp[0], outp[0]
        want = [1, meta.input_size]
        shape = [int(s) for s in self._in["shape"]]
        if shape != want:
            raise ModelError(
                f"{model_path}: input shape {shape} does not fit the metadata "
                f"(window {meta.window} x {len(meta.features)} features = {want})"
            )
        for what, d in (("input", self._in), ("output", self._out)):
            if d["dtype"] != np.int8:
                raise ModelError(
                    f"{model_path}: {what} tensor is {np.dtype(d['dtype']).name}, "
                    "expected int8 (quantize the model fully)"
                )
        out_size = int(np.prod(self._out["shape"]))
        if out_size < meta.input_size:
            raise ModelError(
                f"{model_path}: output has {out_size} values, fewer than the "
                f"{meta.input_size} residuals the metadata describes"
            )
        self.in_scale, self.in_zero = self._in["quantization"]
        self.out_scale, self.out_zero = self._out["quantization"]

    def run(self, window: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        """Return the dequantized output for one normalised window (rows x features)."""
        x = quantize(window.reshape(1, -1), self.in_scale, int(self.in_zero))
        self.interpreter.set_tensor(self._in["index"], x)
        self.interpreter.invoke()
        q = self.interpreter.get_tensor(self._out["index"])
        return dequantize(q, self.out_scale, int(self.out_zero)).reshape(-1)

    def score(
        self, window: npt.NDArray[np.floating[Any]]
    ) -> tuple[float, npt.NDArray[np.float32]]:
        """Return the anomaly score and each feature's share of the residual."""
        y = self.run(window)
        n = self.meta.input_size
        per_feature = (y[:n] ** 2).reshape(self.meta.window, -1).sum(axis=0)
        return float((y**2).sum()), per_feature
