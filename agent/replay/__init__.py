"""Replay recorded CSV files through a Modbus simulator and the whole agent."""

from agent.replay.recording import Recording, RecordingError, read_recording
from agent.replay.run import ReplayOptions, ReplayResult, replay

__all__ = [
    "Recording",
    "RecordingError",
    "ReplayOptions",
    "ReplayResult",
    "read_recording",
    "replay",
]
