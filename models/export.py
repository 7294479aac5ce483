"""Write a fitted layer as a fully int8 TFLite model with TensorFlow's converter.

TensorFlow is needed here only (the ``train`` extra); the device runs the
result with the TFLite runtime alone.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.errors import EdgetwinError
from models.linear_ae import LinearAE

# Representative windows are also fed scaled by this factor, so that the
# output range leaves room above the learning scores before it saturates.
RANGE_HEADROOM = 3.0


def _tensorflow() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow as tf  # noqa: PLC0415 (heavy, optional: only for training)
    except ImportError as exc:
        raise EdgetwinError(
            "training needs TensorFlow: pip install 'edgetwin[train]' "
            f"(import failed: {exc})"
        ) from exc
    return tf


def to_int8_tflite(
    layer: LinearAE, representative: npt.NDArray[np.floating[Any]], seed: int = 0
) -> bytes:
    """Return the flatbuffer of ``layer`` quantized to int8 in and out.

    ``representative`` are training windows; they set the quantization
    ranges of the input and output tensors.
    """
    tf = _tensorflow()
    tf.keras.utils.set_random_seed(seed)
    n_in, n_out = layer.kernel.shape
    inp = tf.keras.Input(shape=(n_in,), batch_size=1, dtype=tf.float32)
    dense = tf.keras.layers.Dense(n_out)
    model = tf.keras.Model(inp, dense(inp))
    dense.set_weights([layer.kernel, layer.bias])

    rep = np.asarray(representative, dtype=np.float32)
    samples = np.concatenate([rep, rep * RANGE_HEADROOM])

    def gen() -> Any:
        for row in samples:
            yield [row[None, :]]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = gen
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    # The converter prints its saved-model summary on stdout, logs through
    # TensorFlow's logger and warns about statistics it does not need (the
    # input range comes from the representative data): keep output clean.
    tf.get_logger().setLevel("ERROR")
    with (
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        return bytes(conv.convert())


def tensorflow_version() -> str:
    """Return the TensorFlow version that converts, for the bundle's metadata."""
    return str(_tensorflow().__version__)
