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
is never driven active from the moment its pin is claimed (every level
written to a pin reaches the plant, so the plant's record is the pin's).
It does not prove anything about real GPIO hardware: not the atomicity of
a claim (a mock pin turns output, then takes its first level), nor what a
released PWM pin does on a board (the mock drops it to 0; the plant keeps
the last level driven).
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.cli.cmd_run import install_stop_handlers
from agent.clock import SimClock
from agent.config import parse_config
from agent.control.failsafe import apply_safe_state
from agent.pipeline import Frame
from agent.runtime import Agent
from drivers.base import DriverContext
from drivers.gpio.device import GpioDevice
from drivers.modbus.sim import SimUnit, TcpSimServer
from drivers.sim.plant import Plant
from tests.conftest import run_cli, start_agent, wait_while_running

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
    server = TcpSimServer([unit])
    try:
        yield server, unit
    finally:
        server.close()


@pytest.fixture
def modbus_site(plc: tuple[TcpSimServer, SimUnit], tmp_path: Path) -> Path:
    cfg = tmp_path / "site.toml"
    cfg.write_text(MODBUS.format(state_dir=tmp_path, port=plc[0].port))
    return cfg


def start_on(cfg: Path) -> subprocess.Popen[str]:
    # A simulator on loopback stands for the real devices.
    return start_agent("-c", str(cfg), "--speed", "20", "--allow-real-devices")


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
    proc = start_on(modbus_site)
    try:
        wait_while_running(proc, driven_by_policies(unit), 60, "the policy writes")
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
    proc = start_on(modbus_site)
    try:
        wait_while_running(proc, driven_by_policies(unit), 60, "the policy writes")
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


# -- GPIO mock pins -----------------------------------------------------------

START = 1_767_225_600.0

GPIO = """
[agent]
state_dir = "{state_dir}"

[[devices]]
name = "plant"
kind = "sim"

[[devices]]
name = "io"
kind = "gpio"
emulate = true

[[points]]
name = "cabinet_temp_c"
device = "plant"
address = "cabinet_temp_c"
period_s = 10

[[actuators]]
name = "heater"
device = "io"
pin = 27
active_high = false
safe_value = 0
plant_input = "heater"

[[actuators]]
name = "fan"
device = "io"
kind = "analog"
unit = "%"
pin = 18
frequency_hz = 25000
safe_value = 0.2
plant_input = "fan"

[control]
enabled = true

# Whatever the cabinet does, both policies turn their outputs on.
[control.policies.heater]
kind = "hysteresis"
point = "cabinet_temp_c"
on_at = 100
off_at = 101

[control.policies.fan]
kind = "hysteresis"
point = "cabinet_temp_c"
on_at = -50
off_at = -60
on_value = 0.9
"""

RELAY_ACTIVE, RELAY_INACTIVE = 0, 1  # active-low relay board


class SigtermWhenDriven:
    """A last stage: once both pins are away from safe, SIGTERM this process.

    Its ``close`` runs in the agent's shutdown after the safe values are
    written and before the devices are released, and notes the pin levels
    there.
    """

    name = "sigterm-when-driven"

    def __init__(self, io: GpioDevice) -> None:
        self.heater_pin = io.factory.pin(27)
        self.fan_pin = io.factory.pin(18)
        self.sent_at: float | None = None
        self.at_close: tuple[str, float, str, float] | None = None

    def process(self, frame: Frame) -> None:
        driven = (
            self.heater_pin.state == RELAY_ACTIVE
            and self.fan_pin.state == pytest.approx(0.9)
        )
        if driven and self.sent_at is None:
            self.sent_at = frame.ts
            signal.raise_signal(signal.SIGTERM)

    def close(self) -> None:
        h, f = self.heater_pin, self.fan_pin
        self.at_close = (h.function, h.state, f.function, f.state)


@contextlib.contextmanager
def stop_on_sigterm(agent: Agent) -> Iterator[None]:
    """Install the handlers ``edgetwin run`` installs; restore the old ones after."""
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    install_stop_handlers(agent)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])


def test_sigterm_handler_stops_the_agent_with_pins_safe(tmp_path: Path) -> None:
    config = parse_config(GPIO.format(state_dir=tmp_path), "site.toml")
    clock = SimClock(start=START)
    agent = Agent(config, clock)
    io = agent.workers["io"].device
    assert isinstance(io, GpioDevice)
    trigger = SigtermWhenDriven(io)
    agent.stages.append(trigger)
    plant: Plant = agent.driver_ctx.shared["plant"]
    before = signal.getsignal(signal.SIGTERM)

    with stop_on_sigterm(agent):
        agent.run(3600)  # the bound: an hour of agent time

    assert signal.getsignal(signal.SIGTERM) is before
    assert trigger.sent_at is not None
    # Stopped by the signal, within the cycle it came in, not by the bound.
    assert clock.now() == trigger.sent_at < START + 3600
    # Between the safe writes and the release, the pins are outputs at
    # their safe levels: the relay released (high), the fan at 20 % duty.
    assert trigger.at_close == ("output", RELAY_INACTIVE, "output", 0.2)
    # Every level each pin took: floating input, safe at claim, the
    # policy's value, safe at stop (then the fan's pin released to 0).
    assert [s.state for s in trigger.heater_pin.states] == [0, 1, 0, 1]
    assert [s.state for s in trigger.fan_pin.states] == pytest.approx(
        [0, 0.2, 0.9, 0.2, 0.0]
    )
    assert trigger.heater_pin.state == RELAY_INACTIVE  # a released relay keeps it
    assert plant.state is not None
    assert plant.state.heater_on is False
    assert plant.state.fan_duty == pytest.approx(0.2)


class RecordingPlant(Plant):
    """The simulated plant, noting every level its heater and fan are driven to."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.heater_drives: list[bool] = []
        self.fan_drives: list[float] = []

    def set_heater(self, t_s: float, on: bool) -> None:
        self.heater_drives.append(bool(on))
        super().set_heater(t_s, on)

    def set_fan(self, t_s: float, duty: float) -> None:
        self.fan_drives.append(float(duty))
        super().set_fan(t_s, duty)


def test_safe_state_on_fresh_pins_never_glitches_the_relay(tmp_path: Path) -> None:
    config = parse_config(GPIO.format(state_dir=tmp_path), "site.toml")
    clock = SimClock(start=START)
    # The plant as a killed agent left it: heater on, fan at 90 %.
    plant = RecordingPlant()
    plant.set_heater(START, True)
    plant.set_fan(START, 0.9)
    plant.heater_drives.clear()
    plant.fan_drives.clear()
    ctx = DriverContext(clock=clock, config=config, shared={"plant": plant})

    results = apply_safe_state(config, clock, tmp_path, ctx=ctx)

    assert [r.line() for r in results] == [
        "heater: off (read back 0)",
        "fan: 20 % (read back 0.2)",
    ]
    # The pins' every level as the plant saw it: the relay went from input
    # straight to its inactive level when claimed and was written inactive
    # again; at no moment was it driven active. The PWM pin likewise.
    assert plant.heater_drives == [False, False]
    assert plant.fan_drives == pytest.approx([0.2, 0.2])
    assert plant.state is not None
    assert plant.state.heater_on is False
    assert plant.state.fan_duty == pytest.approx(0.2)
