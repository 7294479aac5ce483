"""The full benchmark runs the reference workload end to end and reports sane figures.

A real Modbus TCP simulator, a real mosquitto on a free loopback port and a
bundle trained with TensorFlow in a child process; a few minutes of agent
time on the simulated clock. No timing is asserted, only the structure and
the counts that do not depend on the machine.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent.cli.main import main

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists(),
    reason="mosquitto is not installed",
)


def test_full_bench_json_has_sane_figures(tmp_path: Path) -> None:
    out = tmp_path / "full.json"
    code = main(
        [
            "bench",
            "pipeline",
            "--full",
            "--accelerated",
            "--hours",
            "0.05",
            "--window-s",
            "10",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    r = json.loads(out.read_text())

    assert r["points"] == 50
    assert r["clock"] == "accelerated"
    assert r["cycles"] == 180
    # The reference map is two blocks: one holding read, one input read.
    assert r["modbus_requests_per_cycle"] == 2
    for key in (
        "cpu_s",
        "cpu_per_cycle_ms",
        "cpu_pct_of_core",
        "rss_mb",
        "commits_per_hour",
        "bytes_written_per_hour",
    ):
        assert r[key] > 0, key
    # The store commits at most once per 5 s of agent time, plus the last one.
    assert r["commits_per_hour"] * 0.05 <= 180 / 5 + 1
    assert r["numpy_loaded"] is True
    assert r["scorer"] in ("tflite",) or r["scorer"].startswith("statistical")
    assert r["tflite_loaded"] is (r["scorer"] == "tflite")
    # 180 s with 10 s windows: the summaries reached the receiver.
    assert r["messages_received"] >= 180 // 10
    # Latency is measured on the real clock only.
    assert r["latency_n"] == 0 and r["latency_p99_ms"] is None
    assert r["stage_errors"] == 0
