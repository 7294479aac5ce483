"""``edgetwin replay``: a recorded CSV through a Modbus simulator and the agent."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agent.cli.common import out
from agent.replay import ReplayOptions, ReplayResult, read_recording, replay

HELP = """\
Serve a recorded CSV through a Modbus TCP device simulator on 127.0.0.1
(one float32 input register per column), run the whole agent on it through
the Modbus driver on a simulated clock, and report the anomaly intervals it
found, against the file's labels when it has an `anomaly` column.

Files: SKAB's (';' separated, a datetime column, sensor columns, anomaly and
changepoint labels) or plain CSV with a ts or time column and numeric
columns. The first --learn-rows rows are the learning period: the model is
fitted on them (needs TensorFlow: pip install 'edgetwin[train]', unless
--bundle is given) and the detector calibrates on them.

examples:
  edgetwin replay /work/shared/data/skab/valve1/3.csv
  edgetwin replay plant.csv --learn-rows 600 --state-dir /tmp/replay
  edgetwin replay plant.csv --bundle models/demo --json
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay",
        help="replay a recorded CSV through a Modbus simulator and the agent",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("csv", metavar="FILE.csv", help="the recording")
    p.add_argument(
        "--learn-rows",
        type=_rows,
        default=400,
        help="rows of learning period at the start (default 400, as SKAB's protocol)",
    )
    p.add_argument(
        "--bundle",
        metavar="DIR",
        help="use this model bundle (features named as the points) instead of "
        "fitting one",
    )
    p.add_argument(
        "--speed",
        type=float,
        help="recorded seconds per real second (default: as fast as possible)",
    )
    p.add_argument(
        "--state-dir", metavar="DIR", help="keep the database here (default: none)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_replay)


def _rows(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of rows >= 1")
    return n


def run_replay(args: argparse.Namespace) -> int:
    rec = read_recording(args.csv)
    options = ReplayOptions(
        learn_rows=args.learn_rows,
        bundle=Path(args.bundle) if args.bundle else None,
        speed=args.speed,
    )
    result = replay(rec, options, Path(args.state_dir) if args.state_dir else None)
    if args.json:
        out(json.dumps(as_dict(result), indent=2))
    else:
        for line in report(result):
            out(line)
    return 0


def as_dict(r: ReplayResult) -> dict[str, object]:
    """Return the result as plain data for ``--json``."""
    rec = r.recording
    d: dict[str, object] = {
        "file": str(rec.path),
        "rows": rec.rows,
        "period_s": rec.period_s,
        "points": list(rec.points),
        "learn_rows": r.learn_rows,
        "source": r.source,
        "cycles": r.cycles,
        "modbus_requests": r.requests,
        "wall_s": r.wall_s,
        "detected": [
            {"start_row": i.start, "end_row": i.end, "open": i.open} for i in r.detected
        ],
    }
    if r.comparison is not None:
        c = r.comparison
        d["labelled"] = [
            {
                "start_row": m.label.start,
                "end_row": m.label.end,
                "found": m.found,
                "overlap_rows": m.overlap_rows,
                "delay_rows": m.delay_rows,
            }
            for m in c.matches
        ]
        d["false_alarm_intervals"] = len(c.false_alarms)
        k = c.counts
        d["pointwise"] = {
            "tp": k.tp,
            "fp": k.fp,
            "tn": k.tn,
            "fn": k.fn,
            "f1": k.f1,
            "far_pct": k.far_pct,
            "mar_pct": k.mar_pct,
        }
    return d


def report(r: ReplayResult) -> list[str]:
    """Return the human-readable report, one line each."""
    rec = r.recording
    lines = [
        f"{rec.path}: {rec.rows} rows at {rec.period_s:g} s, {len(rec.points)} points "
        f"over Modbus TCP; learned on rows 0-{r.learn_rows - 1}; "
        f"scores from {r.source}",
        f"{r.cycles} cycles, {r.requests} Modbus requests, {r.wall_s:.1f} s wall time",
        f"detected {len(r.detected)} anomaly interval(s):",
    ]
    for i in r.detected:
        end = "the end of the file" if i.open else str(i.end)
        lines.append(f"  rows {i.start} to {end} ({i.rows} rows)")
    if r.comparison is None:
        lines.append("no anomaly labels in the file: nothing to compare")
        return lines
    c = r.comparison
    lines.append(f"labelled {len(c.matches)} anomaly interval(s):")
    for m in c.matches:
        found = (
            f"found, {m.overlap_rows} of {m.label.rows} rows flagged, "
            f"first flag {m.delay_rows} rows in"
            if m.found
            else "MISSED"
        )
        lines.append(f"  rows {m.label.start} to {m.label.end}: {found}")
    lines.append(f"false-alarm intervals (overlapping no label): {len(c.false_alarms)}")
    k = c.counts
    lines.append(
        f"point-wise after learning: F1 {k.f1:.3f}, FAR {k.far_pct:.2f} %, "
        f"MAR {k.mar_pct:.2f} % (TP {k.tp}, FP {k.fp}, TN {k.tn}, FN {k.fn})"
    )
    return lines
