"""``edgetwin train``: a model bundle from exported readings."""

from __future__ import annotations

import argparse
from pathlib import Path

from agent.cli.common import out

HELP = """\
Train an anomaly model on readings exported with `edgetwin export` from a
run without faults, quantize it fully to int8 and write a bundle directory
(model.tflite and model.json). Needs TensorFlow: pip install 'edgetwin[train]'.
The same input and options give the same bundle.

examples:
  edgetwin export --since 2d -o normal.csv
  edgetwin train normal.csv -o /var/lib/edgetwin/model
  edgetwin train normal.csv -o model --points cabinet_temp_c,power_w --window 30
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train an int8 anomaly model from exported readings",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("csv", metavar="FILE.csv", help="readings from edgetwin export")
    p.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="bundle directory"
    )
    p.add_argument(
        "--points", metavar="A,B", help="features (default: every varying point)"
    )
    p.add_argument(
        "--window", type=int, default=20, help="rows per window (default 20)"
    )
    p.add_argument(
        "--period", type=float, default=1.0, help="seconds per row (default 1)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from models.train import TrainOptions, train  # noqa: PLC0415 (loads TensorFlow)

    points = [p.strip() for p in args.points.split(",")] if args.points else None
    options = TrainOptions(window=args.window, period_s=args.period, seed=args.seed)
    meta = train(Path(args.csv), Path(args.output), options, points)
    out(
        f"wrote {args.output}: {len(meta.features)} features "
        f"({', '.join(meta.features)}), window {meta.window}, sha256 {meta.sha256[:12]}"
    )
    return 0
