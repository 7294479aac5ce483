"""``edgetwin read`` against a simulated meter on loopback TCP."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli.main import main
from drivers.modbus.sim import SimUnit, TcpSimServer


def test_read_shows_registers_and_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unit = SimUnit(1)
    unit.set("input", 0, 123.456, "float32")
    with TcpSimServer([unit]) as server:
        cfg = tmp_path / "site.toml"
        cfg.write_text(
            f"""
[[devices]]
name = "meter"
kind = "modbus-tcp"
host = "127.0.0.1"
port = {server.port}

[[points]]
name = "voltage_v"
device = "meter"
profile = "energy_meter"
quantity = "voltage_v"
unit = "V"
scale = 2
"""
        )
        assert main(["read", "voltage_v", "--config", str(cfg)]) == 0
        assert main(["read", "nope", "--config", str(cfg)]) == 2
    lines = capsys.readouterr()
    assert lines.out.splitlines() == [
        "voltage_v: registers 42F6 E979",
        "voltage_v: raw 123.456, value 246.912 V",
    ]
    assert (
        lines.err.strip()
        == "edgetwin: point 'nope' is not configured (known: voltage_v)"
    )
