"""``edgetwin bench skab``: the SKAB outlier-detection benchmark, printed as a table."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

import numpy as np

from agent.cli.common import out, positive_int, progress


def register(which: argparse._SubParsersAction) -> None:
    """Add the ``skab`` benchmark to ``edgetwin bench``."""
    p = which.add_parser(
        "skab",
        help="anomaly quality on the SKAB data set (needs the train extra)",
        description="Run the SKAB outlier-detection protocol: per file, learn on "
        "the first 400 rows, score the rest with the int8 model in the TFLite "
        "runtime, and pool point-wise F1, false-alarm and missed-alarm rates.\n\n"
        "examples:\n  edgetwin bench skab /work/shared/data/skab\n"
        "  edgetwin bench skab --files 3",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "dir",
        nargs="?",
        metavar="DIR",
        help="SKAB directory (default: $EDGETWIN_SKAB_DIR, "
        "else /work/shared/data/skab)",
    )
    p.add_argument(
        "--files", type=positive_int, metavar="N", help="only the first N files"
    )
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.set_defaults(func=run_skab)


def run_skab(args: argparse.Namespace) -> int:
    """Run the benchmark and print it beside the published leaderboard."""
    from models import skab  # noqa: PLC0415 (pulls in TensorFlow only when asked)

    root = skab.data_dir(args.dir)
    result = skab.run(root, args.files, progress=progress)
    c = result.pooled
    p50, p99 = np.percentile(result.invoke_us, [50, 99])
    out(f"SKAB outlier detection, {len(result.files)} files, pooled point-wise")
    out(f"  {'method':<22} {'F1':>5} {'FAR %':>7} {'MAR %':>7}")
    out(f"  {'edgetwin int8 (this)':<22} {c.f1:5.2f} {c.far_pct:7.2f} {c.mar_pct:7.2f}")
    for name, f1, far, mar in skab.LEADERBOARD:
        far_s = "-" if far is None else f"{far:.2f}"
        mar_s = "-" if mar is None else f"{mar:.2f}"
        out(f"  {name:<22} {f1:5.2f} {far_s:>7} {mar_s:>7}")
    out(f"  counts: TP {c.tp} FP {c.fp} TN {c.tn} FN {c.fn}")
    out(f"  model size (largest): {result.model_bytes_max} bytes")
    out(f"  invoke per window: p50 {p50:.1f} us, p99 {p99:.1f} us")
    out(
        f"  float vs int8: median relative score difference "
        f"{100 * result.score_rel_diff:.2f} %, same flag on "
        f"{result.flag_agreement_pct:.2f} % of windows"
    )
    out(f"  wall time: {result.wall_s:.1f} s")
    if args.json:
        with open(args.json, "w") as f:
            d = {
                "f1": c.f1,
                "far_pct": c.far_pct,
                "mar_pct": c.mar_pct,
                "counts": asdict(c),
                "files": [
                    {"name": r.name, **asdict(r.counts), "model_bytes": r.model_bytes}
                    for r in result.files
                ],
                "invoke_p50_us": p50,
                "invoke_p99_us": p99,
                "score_rel_diff": result.score_rel_diff,
                "flag_agreement_pct": result.flag_agreement_pct,
                "wall_s": result.wall_s,
            }
            json.dump(d, f, indent=2)
    return 0
