"""The detector's errors: each leaf also inherits the builtin a caller expects."""

from __future__ import annotations

from agent.errors import EdgetwinError


class ModelError(EdgetwinError, ValueError):
    """A model bundle is missing, malformed, altered or does not fit its metadata."""


class RuntimeMissingError(EdgetwinError, ImportError):
    """No TFLite runtime (ai-edge-litert or tflite-runtime) can be imported."""
