"""The service unit runs safe-state after any exit, and the installer stages it."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_unit_runs_safe_state_after_any_exit() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(REPO / "systemd" / "edgetwin.service")
    service = unit["Service"]
    assert service["ExecStopPost"].split()[1:3] == ["safe-state", "-c"]
    assert service["ExecStart"].split()[1] == "run"
    assert service["KillSignal"] == "SIGTERM"


def test_install_script_stages_unit_and_config(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    r = subprocess.run(
        [str(REPO / "systemd" / "install.sh"), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    unit = tmp_path / "etc/systemd/system/edgetwin.service"
    assert unit.read_text() == (REPO / "systemd" / "edgetwin.service").read_text()
    conf = tmp_path / "etc/edgetwin/edgetwin.toml"
    assert "[control]" in conf.read_text()
