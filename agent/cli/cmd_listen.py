"""``edgetwin listen``: the receiving end of the uplink, printed or into SQLite."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from agent.cli.common import duration, out, positive_int
from agent.errors import CommandError
from agent.uplink.listen import Received, Receiver

HELP = """\
Subscribe to a site's uplink topics on an MQTT broker, check every message
against the JSON Schemas, drop duplicates by (device, boot, sequence number)
and print one line per message, or store them in an SQLite file. Invalid
messages are reported on stderr. Stops on Ctrl-C or SIGTERM, after --count
messages or after --timeout.

examples:
  edgetwin listen --host 127.0.0.1 --port 1883 --site plant-a
  edgetwin listen --site plant-a --store received.db --timeout 1h
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "listen",
        help="receive, check and de-duplicate a site's uplink messages",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="broker (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    p.add_argument(
        "--site", required=True, type=site_name, help="the site to subscribe to"
    )
    p.add_argument(
        "--prefix",
        default="edgetwin/v1",
        type=topic_prefix,
        help="topic prefix (default edgetwin/v1)",
    )
    p.add_argument(
        "--store", metavar="FILE", help="store messages in this SQLite file instead"
    )
    p.add_argument(
        "--count", type=positive_int, metavar="N", help="stop after N accepted messages"
    )
    p.add_argument(
        "--timeout", type=duration, metavar="TIME", help="stop after TIME (e.g. 30s)"
    )
    p.set_defaults(func=listen)


def site_name(text: str) -> str:
    """A site name as one topic level: not empty, no '/', '+' or '#'."""
    bad = sorted({c for c in text if c in "/+#"})
    if not text or bad:
        why = "is empty" if not text else f"contains {' '.join(bad)}"
        raise argparse.ArgumentTypeError(
            f"{text!r} {why}; a site is one topic level without '/', '+' or '#'"
            " (e.g. plant-a)"
        )
    return text


def topic_prefix(text: str) -> str:
    """Topic levels without wildcards, e.g. edgetwin/v1."""
    if not text or "+" in text or "#" in text or "" in text.split("/"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a topic prefix: levels separated by '/', none empty,"
            " no '+' or '#' (e.g. edgetwin/v1)"
        )
    return text


def describe(m: Received) -> str:
    """One line for one accepted message."""
    d = m.data
    when = datetime.fromtimestamp(float(d["ts"]), UTC).strftime("%Y-%m-%d %H:%M:%S")
    head = f"{when} {d['device']} {m.kind:<7} seq={d['seq']}"
    if d["historical"]:
        head += " historical"
    detail: Any
    if m.kind == "status":
        detail = d["state"]
    elif m.kind == "summary":
        points = d.get("points", {})
        n = sum(int(p.get("n", 0)) for p in points.values())
        detail = f"{len(points)} points, {n} readings"
    elif m.kind == "event":
        detail = f"{d['kind']} [{d['severity']}] {d['message']}"
    else:
        detail = f"{m.topic.rsplit('/', 2)[-2]} {d.get('status', '')}"
        if d.get("reason"):
            detail += f": {d['reason']}"
    return f"{head} {detail}"


def listen(args: argparse.Namespace) -> int:
    stop = threading.Event()
    accepted = 0
    lock = threading.Lock()

    def on_message(m: Received) -> None:
        nonlocal accepted
        with lock:
            accepted += 1
            if args.store is None:
                out(describe(m))
                sys.stdout.flush()
            if args.count is not None and accepted >= args.count:
                stop.set()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    try:
        rx = Receiver(
            args.host,
            args.port,
            args.site,
            store=args.store,
            prefix=args.prefix,
            on_message=on_message,
            keep=False,
        )
    except OSError as exc:
        raise CommandError(
            f"listen: cannot connect to {args.host}:{args.port}: {exc}"
        ) from None
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        confirm_s = 10.0 if args.timeout is None else min(10.0, args.timeout)
        if not rx.wait_for(lambda: rx.subscribed, confirm_s):
            raise CommandError(
                f"listen: {args.host}:{args.port} did not confirm the subscription"
                f" within {confirm_s:g} s"
            )
        sys.stderr.write(f"listening on {rx.topic}\n")
        sys.stderr.flush()
        deadline = None if args.timeout is None else time.monotonic() + args.timeout
        while not stop.is_set():
            left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if left <= 0:
                break
            stop.wait(left)
    finally:
        rx.close()
    sys.stderr.write(
        f"{accepted} messages accepted, {rx.duplicates} duplicates dropped,"
        f" {len(rx.invalid)} invalid\n"
    )
    return 0
