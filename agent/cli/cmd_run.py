"""``edgetwin run``: the agent itself."""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sqlite3
import time
from pathlib import Path
from types import FrameType

from agent.cli.common import (
    DEFAULT_PATH,
    add_config_arg,
    duration,
    out,
    resolve_config,
    state_dir,
)
from agent.clock import Clock, RealClock, SimClock
from agent.config.schema import Config, DeviceConfig
from agent.errors import EdgetwinError
from agent.runtime import Agent, store_path
from agent.uplink.config_switch import rollback_if_expired

log = logging.getLogger(__name__)

HELP = """\
Run the agent: poll every point, run the twin, detector and controller,
buffer in SQLite and sync upstream. Without a configuration file it runs the
built-in simulated plant. SIGTERM or Ctrl-C stops it cleanly: the store is
flushed and every actuator goes to its safe value.

examples:
  edgetwin run                                 the service (real time)
  edgetwin run --speed 600 --duration 1h       simulated clock, 600x real time
  edgetwin run --speed max --duration 7d       simulated clock, as fast as possible

--speed needs every device simulated (kind "sim", emulate = true on I2C and
GPIO, simulate = ... on Modbus): on real hardware it would run minimum
on/off times and slew limits that many times too fast. A simulated run into
a state directory that already holds data starts after its newest record.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the agent",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arg(p)
    p.add_argument(
        "--speed",
        metavar="X",
        help="run on a simulated clock X times faster than real time, or 'max' "
        "for as fast as possible (default: the real clock)",
    )
    p.add_argument(
        "--duration",
        type=duration,
        metavar="TIME",
        help="stop after this much agent time (e.g. 10m, 2h)",
    )
    p.add_argument(
        "--allow-real-devices",
        action="store_true",
        help="allow --speed with devices that are not simulated; for bench tests "
        "against device simulators only, never on real hardware",
    )
    p.set_defaults(func=run)


def is_simulated(device: DeviceConfig) -> bool:
    """True when ``device`` drives no hardware: the plant, emulated chips or pins."""
    options = device.options
    return (
        device.kind == "sim"
        or bool(getattr(options, "emulate", False))
        or bool(getattr(options, "simulate", ""))
        or getattr(options, "pin_factory", "") == "mock"
    )


def check_speed(config: Config, speed: str) -> None:
    """Refuse a simulated clock when a device is real hardware."""
    for dev in config.devices:
        if not is_simulated(dev):
            raise EdgetwinError(
                f"--speed {speed}: device {dev.name!r} ({dev.kind}) is real hardware, "
                "whose actuators would switch faster than their envelope allows; "
                "run it without --speed, or simulate the device "
                "(--allow-real-devices is for bench tests against simulators)"
            )


def newest_ts(db_path: Path) -> float | None:
    """The newest reading or event time in the database; None when there is none."""
    if not db_path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    found: list[float] = []
    try:
        for sql in ("SELECT max(t1) FROM readings", "SELECT max(ts) FROM events"):
            try:
                row = conn.execute(sql).fetchone()
            except sqlite3.Error:
                continue  # a database without that table yet
            if row and row[0] is not None:
                found.append(float(row[0]))
    finally:
        conn.close()
    return max(found) if found else None


def sim_start(db_path: Path) -> float:
    """Where a simulated clock starts: now, or after what the store already holds."""
    start = float(round(time.time()))
    newest = newest_ts(db_path)
    if newest is not None and newest + 1.0 > start:
        start = float(math.ceil(newest + 1.0))
    return start


def make_clock(speed: str | None, start: float | None = None) -> Clock:
    if speed is None:
        return RealClock()
    start = float(round(time.time())) if start is None else start
    if speed == "max":
        return SimClock(start=start, speed=None)
    try:
        x = float(speed)
    except ValueError:
        x = -1.0
    if x <= 0:
        raise SystemExit(
            f"edgetwin: --speed: {speed!r} is not a positive number or 'max'"
        )
    return SimClock(start=start, speed=x)


def install_stop_handlers(agent: Agent) -> None:
    """Make SIGTERM and SIGINT stop ``agent`` cleanly (store flushed, outputs safe)."""

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        agent.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)


def run(args: argparse.Namespace) -> int:
    # A configuration pushed upstream that did not prove healthy in time
    # (the agent crashed with it) is rolled back before it is loaded again.
    path = args.config or (DEFAULT_PATH if DEFAULT_PATH.exists() else None)
    if path:
        rollback_if_expired(path, time.time())
    config = resolve_config(args)
    db_path = store_path(config, state_dir(args, config))
    start = None
    if args.speed is not None:
        if not args.allow_real_devices:
            check_speed(config, args.speed)
        start = sim_start(db_path)
    clock = make_clock(args.speed, start)
    agent = Agent(config, clock, state_dir=state_dir(args, config))
    install_stop_handlers(agent)
    log.info(
        "running %s: %d devices, %d points, %d actuators; store %s",
        config.source,
        len(config.devices),
        len(config.points),
        len(config.actuators),
        db_path,
    )
    started = time.monotonic()
    agent.run(args.duration)
    s = agent.stats.summary()
    out(
        f"ran {agent.ran_s:.0f} s of agent time in {time.monotonic() - started:.1f} s: "
        f"{agent.stats.cycles} cycles, {agent.store.stats.readings_committed} readings "
        f"stored, lag p99 {s['lag_p99_ms']:.1f} ms, {s['overruns']:.0f} overruns"
    )
    return 0
