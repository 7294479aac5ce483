"""Find a TFLite interpreter: ai-edge-litert first, then tflite-runtime.

NOTE: ai-edge-litert is the supported runtime. tflite-runtime stopped at
2.14, which fails to import under numpy 2; it is tried only so that an
older board image that has it still scores with the model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from agent.detector.errors import ModelError, RuntimeMissingError

log = logging.getLogger(__name__)

RUNTIMES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter")


def interpreter_class(modules: tuple[str, ...] = RUNTIMES) -> tuple[type[Any], str]:
    """Return the first importable ``Interpreter`` class and its module's name.

    Raises ``RuntimeMissingError`` naming every module tried and why it failed.
    """
    failures: list[str] = []
    for name in modules:
        try:
            module = __import__(name, fromlist=["Interpreter"])
            return module.Interpreter, name
        except Exception as exc:  # an old runtime can fail with more than ImportError
            failures.append(f"{name} ({type(exc).__name__}: {exc})")
    raise RuntimeMissingError(
        "no TFLite runtime: tried "
        + "; ".join(failures)
        + " (install ai-edge-litert: pip install ai-edge-litert)"
    )


def open_interpreter(
    model_path: Path, modules: tuple[str, ...] = RUNTIMES
) -> tuple[Any, str]:
    """Load ``model_path`` into an interpreter with its tensors allocated.

    Raises ``RuntimeMissingError`` when no runtime imports and ``ModelError`` when
    the file is not a model the runtime can load.
    """
    cls, name = interpreter_class(modules)
    try:
        interp = cls(model_path=str(model_path), num_threads=1)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"{model_path}: not a loadable TFLite model: {exc}") from exc
    log.debug("loaded %s with %s", model_path, name)
    return interp, name
