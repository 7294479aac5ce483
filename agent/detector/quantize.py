"""Affine int8 quantization as TFLite defines it: q = round(x / scale) + zero_point.

Rounding is half away from zero, as TFLite's reference kernels do, and the
result saturates at the int8 limits: a value far outside the calibrated
range becomes -128 or 127, never a wrapped-around number of the other sign.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

INT8_MIN = -128
INT8_MAX = 127


def quantize(x: npt.ArrayLike, scale: float, zero_point: int) -> npt.NDArray[np.int8]:
    """Return ``x`` as int8 on the grid ``(q - zero_point) * scale``, saturated.

    Raises ``ValueError`` when ``scale`` is not a positive finite number or
    ``zero_point`` is outside the int8 range.
    """
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"quantization scale must be positive and finite, got {scale}")
    if not INT8_MIN <= zero_point <= INT8_MAX:
        raise ValueError(
            f"zero point {zero_point} is outside the int8 range "
            f"{INT8_MIN} to {INT8_MAX}"
        )
    v = np.asarray(x, dtype=np.float64) / scale
    # NaN has no place on the grid; it maps to the zero point (the value 0.0).
    v = np.nan_to_num(v, nan=0.0, posinf=np.inf, neginf=-np.inf)
    rounded = np.sign(v) * np.floor(np.abs(v) + 0.5)
    q = np.clip(rounded + zero_point, INT8_MIN, INT8_MAX)
    return q.astype(np.int8)


def dequantize(
    q: npt.ArrayLike, scale: float, zero_point: int
) -> npt.NDArray[np.float32]:
    """Return the real values that the int8 codes ``q`` stand for."""
    return ((np.asarray(q, dtype=np.int32) - zero_point) * scale).astype(np.float32)
