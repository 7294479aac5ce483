"""Replay a recorded CSV through a Modbus TCP simulator and the whole agent.

The recording's columns are served as float32 input registers (column ``i``
at register ``2 * i``) by a simulated unit on ``127.0.0.1``. A configuration
with one ``modbus-tcp`` device pointing at it, one point per column and the
detector enabled runs in an ``Agent`` on a simulated clock; each time the
clock is slept on, the unit's registers take the row that falls due, so
every cycle reads that row through the real Modbus driver. The anomaly
intervals come back from the store's ``anomaly_start`` / ``anomaly_end``
events and, when the file has labels, are compared with them.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent.clock import SimClock
from agent.config import parse_config
from agent.config.schema import Config
from agent.replay.recording import Recording, RecordingError
from agent.replay.scoring import Comparison, Interval, compare
from agent.runtime import Agent, store_path
from agent.store.store import Event, Store
from drivers.modbus.sim import SimUnit, TcpSimServer
from models.skab import Settings

log = logging.getLogger(__name__)

REGISTERS_PER_COLUMN = 2  # float32
DEVICE = "recording"


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay.

    ``learn_rows`` open the file as its learning period (model, normalisation
    and threshold); ``bundle`` uses an existing bundle instead of fitting one
    on them. ``speed`` plays that many recorded seconds per real second
    (None: as fast as the agent runs).
    """

    learn_rows: int = 400
    bundle: Path | None = None
    speed: float | None = None
    settings: Settings = field(default_factory=Settings)


@dataclass
class ReplayResult:
    """What a replay found and what it cost."""

    recording: Recording
    learn_rows: int
    detected: list[Interval]
    events: list[Event]
    comparison: Comparison | None
    cycles: int
    requests: int
    source: str
    wall_s: float


class FeedingClock:
    """A simulated clock that sets the unit's registers to the row due when slept on."""

    def __init__(
        self,
        clock: SimClock,
        start_s: float,
        period_s: float,
        feed: Callable[[int], None],
    ) -> None:
        self._clock = clock
        self._start_s = start_s
        self._period_s = period_s
        self._feed = feed

    def row_at(self, t: float) -> int:
        """Return the row that plays at time ``t``."""
        return max(0, round((t - self._start_s) / self._period_s))

    def now(self) -> float:
        return self._clock.now()

    def sleep_until(self, t: float, stop: threading.Event | None = None) -> bool:
        if not self._clock.sleep_until(t, stop):
            return False
        self._feed(self.row_at(t))
        return True


def replay_config(rec: Recording, port: int, bundle: Path, learn_rows: int) -> Config:
    """Return the agent configuration that reads ``rec``'s columns from the simulator.

    The detector's tuning is the SKAB benchmark's (``models.skab.Settings``):
    robust normalisation, margin, EWMA and onset/clear counts.
    """
    settings = Settings()
    lines = [
        "[agent]",
        f"cycle_s = {min(rec.period_s, 10.0)!r}",
        "",
        "[model]",
        "enabled = true",
        f"bundle = {json.dumps(str(bundle))}",
        f"learn_s = {learn_rows * rec.period_s!r}",
        f"margin = {settings.tuning.margin!r}",
        f"ewma_alpha = {settings.tuning.ewma_alpha!r}",
        f"onset_n = {settings.tuning.onset_n}",
        f"clear_n = {settings.tuning.clear_n}",
        f"robust_norm = {'true' if settings.tuning.robust else 'false'}",
        "",
        "[[devices]]",
        f'name = "{DEVICE}"',
        'kind = "modbus-tcp"',
        'host = "127.0.0.1"',
        f"port = {port}",
        "timeout_s = 1.0",
    ]
    for i, (point, column) in enumerate(zip(rec.points, rec.columns, strict=True)):
        lines += [
            "",
            "[[points]]",
            f'name = "{point}"',
            f'device = "{DEVICE}"',
            'table = "input"',
            f"address = {i * REGISTERS_PER_COLUMN}",
            'type = "float32"',
            f"period_s = {rec.period_s!r}",
            f"description = {json.dumps(column)}",
        ]
    return parse_config("\n".join(lines) + "\n", f"replay of {rec.path}")


def detected_intervals(
    events: list[Event], row_at: Callable[[float], int], rows: int
) -> list[Interval]:
    """Turn ``anomaly_start`` / ``anomaly_end`` events into row intervals."""
    found: list[Interval] = []
    start: int | None = None
    for e in events:
        if e.kind == "anomaly_start" and start is None:
            start = row_at(e.ts)
        elif e.kind == "anomaly_end" and start is not None:
            found.append(Interval(start, row_at(e.ts)))
            start = None
    if start is not None:
        found.append(Interval(start, rows, open=True))
    return found


def replay(
    rec: Recording,
    options: ReplayOptions | None = None,
    state_dir: Path | None = None,
) -> ReplayResult:
    """Replay ``rec`` through the agent; return the intervals found and their match.

    ``state_dir`` keeps the database (a temporary directory when None).
    Raises ``RecordingError`` when the file is too short for its learning
    period and ``EdgetwinError`` when the model cannot be built.
    """
    options = options or ReplayOptions()
    window = options.settings.window
    if rec.rows < options.learn_rows + window:
        raise RecordingError(
            f"{rec.path}: {rec.rows} rows; replay needs more than the "
            f"{options.learn_rows} learning rows plus a window of {window}"
        )
    with tempfile.TemporaryDirectory(prefix="edgetwin-replay-") as tmp:
        work = Path(tmp)
        bundle = options.bundle or _train(rec, options, work / "model")
        return _run(rec, options, bundle, state_dir or work / "state")


def _train(rec: Recording, options: ReplayOptions, directory: Path) -> Path:
    from agent.replay.model import train_bundle  # noqa: PLC0415 (loads TensorFlow)

    return train_bundle(
        rec.values[: options.learn_rows],
        features=rec.points,
        period_s=rec.period_s,
        directory=directory,
        trained_on=f"{rec.path.name}, first {options.learn_rows} rows",
        settings=options.settings,
    )


def _run(
    rec: Recording, options: ReplayOptions, bundle: Path, state_dir: Path
) -> ReplayResult:
    unit = SimUnit(1)
    values32 = rec.values.astype(np.float32)

    def feed(row: int) -> None:
        r = values32[min(row, rec.rows - 1)]
        for i, v in enumerate(r):
            unit.set("input", i * REGISTERS_PER_COLUMN, float(v), "float32")

    start_s = float(rec.times_s[0])
    feed(0)
    t0 = time.perf_counter()
    server = TcpSimServer([unit])
    with server:
        config = replay_config(rec, server.port, bundle, options.learn_rows)
        clock = FeedingClock(
            SimClock(start_s, options.speed), start_s, rec.period_s, feed
        )
        agent = Agent(config, clock, state_dir=state_dir)
        source = _source(agent)
        agent.run(duration_s=rec.rows * rec.period_s)
        cycles = agent.stats.cycles
        requests = unit.requests
    wall_s = time.perf_counter() - t0

    # A kept state directory may hold earlier runs: read this run's events only.
    with Store(store_path(config, state_dir), config.store) as store:
        everything = store.events()
    starts = [i for i, e in enumerate(everything) if e.kind == "agent_started"]
    events = [
        e
        for e in everything[starts[-1] if starts else 0 :]
        if e.kind in ("anomaly_start", "anomaly_end")
    ]
    detected = detected_intervals(events, clock.row_at, rec.rows)
    comparison = (
        None
        if rec.labels is None
        else compare(detected, rec.labels, options.learn_rows)
    )
    return ReplayResult(
        recording=rec,
        learn_rows=options.learn_rows,
        detected=detected,
        events=events,
        comparison=comparison,
        cycles=cycles,
        requests=requests,
        source=source,
        wall_s=wall_s,
    )


def _source(agent: Agent) -> str:
    for stage in agent.stages:
        det = getattr(stage, "detector", None)
        if det is not None:
            return str(det.source)
    return "none"
