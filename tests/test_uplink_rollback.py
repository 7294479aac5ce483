"""``edgetwin run`` rolls back a pushed configuration whose trial expired."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def config(state_dir: Path, device: str) -> str:
    return (
        f'[site]\nsite = "s"\ndevice = "{device}"\n'
        f'[agent]\nstate_dir = "{state_dir}"\n'
        '[[devices]]\nname = "plant"\nkind = "sim"\n'
        '[[points]]\nname = "t"\ndevice = "plant"\naddress = "cabinet_temp_c"\n'
    )


@pytest.mark.parametrize(("deadline_in_s", "rolled_back"), [(-10, True), (600, False)])
def test_run_puts_the_previous_configuration_back_when_the_trial_expired(
    tmp_path: Path, deadline_in_s: float, rolled_back: bool
) -> None:
    cfg = tmp_path / "edgetwin.toml"
    old, new = config(tmp_path, "old"), config(tmp_path, "new")
    cfg.write_text(new)
    cfg.with_name("edgetwin.toml.prev").write_text(old)
    trial = cfg.with_name("edgetwin.toml.trial")
    trial.write_text(json.dumps({"deadline": time.time() + deadline_in_s}))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent",
            "run",
            "-c",
            str(cfg),
            "--speed",
            "max",
            "--duration",
            "5s",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    if rolled_back:
        assert cfg.read_text() == old
        assert not trial.exists()
        assert "did not come up healthy in time; rolled back" in r.stderr
    else:
        assert cfg.read_text() == new
        assert trial.exists()
