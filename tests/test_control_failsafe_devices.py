"""Fail-safe on real device drivers: Modbus coils and registers, GPIO mock pins.

Modbus: a pymodbus-framed simulator (``drivers.modbus.sim``) serves a coil,
a holding register and a float32 register pair on a free loopback port in
this process; the agent runs as a real subprocess (``python -m agent run``)
and reaches it over TCP. After SIGTERM the simulator's tables hold the
safe values; after SIGKILL they still hold what the policies wrote, until
``edgetwin safe-state`` (another subprocess) puts them back. This proves
the values reach the device itself, not only the store.

GPIO: mock pins live inside one process, so a second process cannot see
them and SIGKILL cannot be followed by an observable ``safe-state`` on the
same pins. What is checked instead, in process: (1) the agent's own stop
path, entered from a SIGTERM handler like the one ``edgetwin run``
installs, leaves the active-low relay pin at its inactive level and the
PWM pin at its safe duty while the pins are still claimed, and the plant
sees both; (2) the library function behind ``edgetwin safe-state``
(``apply_safe_state``), run on a fresh device set over a plant the
policies left hot, drives both outputs to their safe values, and the relay
is never driven active from the moment its pin is claimed. It does not
prove anything about real GPIO hardware, nor what a released PWM pin does
on a board (the mock drops it to 0; the plant keeps the last level driven).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import pytest

from agent.clock import SimClock
from agent.config import parse_config
from agent.control.failsafe import apply_safe_state
from agent.pipeline import Frame
from agent.runtime import Agent
from drivers.base import DriverContext
from drivers.gpio.kind import GpioDevice
from drivers.modbus.sim import SimUnit, TcpSimServer
from drivers.sim.plant import Plant
from tests.conftest import REPO, run_cli

# -- Modbus -------------------------------------------------------------------

MODBUS = """
[agent]
state_dir = "{state_dir}"

[store]
commit_interval_s = 1

[[devices]]
name = "plc"
kind = "modbus-tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 1
retries = 1

[[points]]
name = "tank_temp_c"
device = "plc"
table = "input"
address = 0
type = "float32"
period_s = 1

[[actuators]]
name = "pump"
device = "plc"
address = "00001"
safe_value = 0

[[actuators]]
name = "valve"
device = "plc"
kind = "analog"
unit = "%"
max = 100
safe_value = 25
table = "holding"
address = 10

[[actuators]]
name = "setpoint"
device = "plc"
kind = "analog"
unit = "rpm"
max = 1000
safe_value = 12.5
table = "holding"
address = 20
type = "float32"
layout = "CDAB"

[control]
enabled = true

[control.policies.pump]
kind = "hysteresis"
point = "tank_temp_c"
on_at = 30
off_at = 28

[control.policies.valve]
kind = "hysteresis"
point = "tank_temp_c"
on_at = 30
off_at = 28
on_value = 80

[control.policies.setpoint]
kind = "hysteresis"
point = "tank_temp_c"
on_at = 30
off_at = 28
on_value = 750.5
"""

SAFE = {"pump": 0.0, "valve": 25.0, "setpoint": 12.5}
INITIAL = {"pump": 1.0, "valve": 60.0, "setpoint": 400.0}
# The tank is hot: every policy turns its output on.
POLICY = {"pump": 1.0, "valve": 80.0, "setpoint": 750.5}


def outputs(unit: SimUnit) -> dict[str, float]:
    """The three actuators as the simulated device holds them."""
    return {
        "pump": float(unit.get_registers("coil", 0, 1)[0]),
        "valve": float(unit.get("holding", 10)),
        "setpoint": float(unit.get("holding", 20, "float32", layout="CDAB")),
    }


@pytest.fixture
def plc() -> Iterator[tuple[TcpSimServer, SimUnit]]:
    unit = SimUnit(1)
    unit.set("input", 0, 41.5, "float32")
    unit.set_registers("coil", 0, [int(INITIAL["pump"])])
    unit.set("holding", 10, int(INITIAL["valve"]))
    unit.set("holding", 20, INITIAL["setpoint"], "float32", layout="CDAB")
    with TcpSimServer([unit]) as server:
        yield server, unit


@pytest.fixture
def modbus_site(plc: tuple[TcpSimServer, SimUnit], tmp_path: Path) -> Path:
    cfg = tmp_path / "site.toml"
    cfg.write_text(MODBUS.format(state_dir=tmp_path, port=plc[0].port))
    return cfg


def start_agent(cfg: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "agent", "run", "-c", str(cfg), "--speed", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def wait_for(
    proc: subprocess.Popen[str], done: Callable[[], bool], bound_s: float = 60
) -> None:
    """Wait until ``done()`` while the agent runs, at most ``bound_s``."""
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        if done():
            return
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the agent exited with {proc.returncode}: {err}")
        # A bounded wait on the process, not a sleep.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.05)
    pytest.fail("the actuators never left their safe values")


def driven_by_policies(unit: SimUnit) -> Callable[[], bool]:
    # The registers start away from their policy values and the agent
    # writes the safe values when it starts, so the policy values in all
    # three mean the policies wrote them after the start.
    return lambda: outputs(unit) == POLICY


def test_sigterm_leaves_coil_and_registers_safe(
    plc: tuple[TcpSimServer, SimUnit], modbus_site: Path
) -> None:
    _, unit = plc
    assert outputs(unit) == INITIAL
    proc = start_agent(modbus_site)
    try:
        wait_for(proc, driven_by_policies(unit))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert outputs(unit) == SAFE
    # Raw words, as a second client would read them: 12.5 is 41 48 00 00.
    assert unit.get_registers("holding", 20, 2) == [0x0000, 0x4148]


def test_sigkill_then_safe_state_command(
    plc: tuple[TcpSimServer, SimUnit], modbus_site: Path
) -> None:
    _, unit = plc
    proc = start_agent(modbus_site)
    try:
        wait_for(proc, driven_by_policies(unit))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    # Killed: nothing put the outputs back.
    assert outputs(unit) == POLICY
    r = run_cli("safe-state", "-c", str(modbus_site))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "pump: off (read back 0)",
        "valve: 25 % (read back 25)",
        "setpoint: 12.5 rpm (read back 12.5)",
    ]
    assert outputs(unit) == SAFE


def test_safe_state_names_an_actuator_the_device_refuses(
    plc: tuple[TcpSimServer, SimUnit], modbus_site: Path
) -> None:
    _, unit = plc
    unit.faults.exception = 4
    r = run_cli("safe-state", "-c", str(modbus_site))
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1] == (
        "edgetwin: safe-state: could not set pump, setpoint, valve (see the log above)"
    )
    assert outputs(unit) == INITIAL
