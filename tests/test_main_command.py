"""The README's main command: the agent on its built-in default, as a subprocess."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from agent.config import default_config
from agent.reading import Quality
from agent.store.store import Store
from tests.conftest import run_cli


def test_run_on_the_built_in_default_fills_the_store(tmp_path: Path) -> None:
    res = run_cli(
        "run", "--speed", "max", "--duration", "10m", "--state-dir", str(tmp_path)
    )
    assert res.returncode == 0, res.stderr
    assert "running <built-in default>" in res.stderr
    assert res.stdout.startswith("ran 600 s of agent time in ")

    config = default_config()
    with Store(tmp_path / "edgetwin.db") as store:
        readings = list(store.iter_readings())
        kinds = Counter(e.kind for e in store.events())
    counts = Counter(r.point for r in readings)
    # Every point, read through its driver, on its own period of the
    # simulated clock: 600 s / period readings each.
    assert counts == {p.name: int(600 / p.period_s) for p in config.points}
    start = min(r.ts for r in readings)
    temps = [r.ts - start for r in readings if r.point == "cabinet_temp_c"]
    assert temps == [float(i) for i in range(600)]
    good = sum(r.quality is Quality.GOOD for r in readings)
    assert good == len(readings)
    assert kinds["agent_started"] == 1 and kinds["agent_stopped"] == 1

    status = run_cli("status", "--state-dir", str(tmp_path))
    assert status.returncode == 0, status.stderr
    for p in config.points:
        line = next(x for x in status.stdout.splitlines() if x.startswith(p.name + " "))
        assert "good" in line
