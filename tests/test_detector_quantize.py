"""Int8 quantization: TFLite's rounding (half away from zero) and saturation."""

from __future__ import annotations

import numpy as np
import pytest

from agent.detector.quantize import dequantize, quantize


def test_rounds_half_away_from_zero() -> None:
    q = quantize([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49, -0.49], 1.0, 0)
    assert q.tolist() == [1, 2, 3, -1, -2, -3, 0, 0]


def test_applies_scale_and_zero_point() -> None:
    # x = (q - zp) * scale  ->  q = round(0.3 / 0.1) + (-5) = -2
    assert quantize([0.3, -0.25], 0.1, -5).tolist() == [-2, -8]


def test_saturates_at_the_int8_limits_without_wrapping() -> None:
    q = quantize([127.4, 127.6, 128.0, 1e6, -128.4, -128.6, -1e6], 1.0, 0)
    assert q.dtype == np.int8
    assert q.tolist() == [127, 127, 127, 127, -128, -128, -128]


def test_saturates_with_an_offset_zero_point() -> None:
    # With zero point 100, anything above 27 * scale saturates at 127.
    assert quantize([27.0, 28.0, 500.0], 1.0, 100).tolist() == [127, 127, 127]


def test_infinities_saturate_and_nan_maps_to_zero_point() -> None:
    assert quantize([np.inf, -np.inf, np.nan], 0.5, 3).tolist() == [127, -128, 3]


def test_dequantize_inverts_on_the_grid() -> None:
    q = np.arange(-128, 128, dtype=np.int8)
    assert np.array_equal(quantize(dequantize(q, 0.25, 7), 0.25, 7), q)


@pytest.mark.parametrize(
    ("scale", "zp"), [(0.0, 0), (-1.0, 0), (np.nan, 0), (1.0, 128)]
)
def test_rejects_bad_parameters(scale: float, zp: int) -> None:
    with pytest.raises(ValueError, match=r"scale|zero point"):
        quantize([1.0], scale, zp)
