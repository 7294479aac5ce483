"""``edgetwin run``: the agent itself."""

from __future__ import annotations

import argparse
import logging
import signal
import time
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
    p.set_defaults(func=run)


def make_clock(speed: str | None) -> Clock:
    if speed is None:
        return RealClock()
    if speed == "max":
        return SimClock(start=round(time.time()), speed=None)
    try:
        x = float(speed)
    except ValueError:
        x = -1.0
    if x <= 0:
        raise SystemExit(
            f"edgetwin: --speed: {speed!r} is not a positive number or 'max'"
        )
    return SimClock(start=round(time.time()), speed=x)


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
    clock = make_clock(args.speed)
    agent = Agent(config, clock, state_dir=state_dir(args, config))
    install_stop_handlers(agent)
    log.info(
        "running %s: %d devices, %d points, %d actuators; store %s",
        config.source,
        len(config.devices),
        len(config.points),
        len(config.actuators),
        store_path(config, state_dir(args, config)),
    )
    started = time.monotonic()
    t0 = clock.now()
    agent.run(args.duration)
    s = agent.stats.summary()
    ran_s = args.duration if args.duration is not None else clock.now() - t0
    out(
        f"ran {ran_s:.0f} s of agent time in {time.monotonic() - started:.1f} s: "
        f"{agent.stats.cycles} cycles, {agent.store.stats.readings_committed} readings "
        f"stored, lag p99 {s['lag_p99_ms']:.1f} ms, {s['overruns']:.0f} overruns"
    )
    return 0
