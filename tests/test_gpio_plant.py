"""Emulated GPIO: mock pins coupled to the simulated plant, alone and in the agent."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from gpiozero import Device

from agent.clock import SimClock
from agent.config import parse_config
from agent.config.schema import Config
from agent.errors import ConfigError, DeviceError
from agent.pipeline import Frame
from agent.runtime import Agent
from drivers.base import DriverContext
from drivers.gpio.device import GpioDevice
from drivers.gpio.emulate import PlantPin
from drivers.registry import kinds
from drivers.sim.driver import SimDevice
from drivers.sim.plant import Plant, PlantParams

START = 1_767_225_600.0

SIM = """
[[devices]]
name = "plant"
kind = "sim"
seed = 3
{faults}
"""

IO = """
[[devices]]
name = "io"
kind = "gpio"
emulate = true

[[points]]
name = "door_open"
device = "io"
pin = 17
pull_up = true
bounce_s = {bounce_s}
plant_signal = "door_open"
period_s = 10

[[points]]
name = "door_openings"
device = "io"
pin = 17
bounce_s = {bounce_s}
quantity = "count"
period_s = 10

[[actuators]]
name = "heater"
device = "io"
pin = 27
active_high = {heater_active_high}
plant_input = "heater"

[[actuators]]
name = "fan"
device = "io"
kind = "analog"
pin = 18
active_high = {fan_active_high}
frequency_hz = 25000
safe_value = 0.2
plant_input = "fan"
"""


def config_text(
    *,
    faults: str = "",
    bounce_s: float = 0.05,
    heater_active_high: bool = False,
    fan_active_high: bool = True,
) -> str:
    return SIM.format(faults=faults) + IO.format(
        bounce_s=bounce_s,
        heater_active_high=str(heater_active_high).lower(),
        fan_active_high=str(fan_active_high).lower(),
    )


@dataclass
class Rig:
    """A sim device and an emulated GPIO device sharing one plant and clock."""

    config: Config
    clock: SimClock
    io: GpioDevice
    sim: SimDevice

    @property
    def plant(self) -> Plant:
        return self.sim.plant

    def pin(self, number: int) -> PlantPin:
        pin: PlantPin = self.io.factory.pin(number)
        return pin

    def close(self) -> None:
        self.io.close()
        self.sim.close()


def open_rig(text: str) -> Rig:
    config = parse_config(text)
    clock = SimClock(start=START)
    ctx = DriverContext(clock, config)
    sim = kinds()["sim"].open(config.device("plant"), ctx)
    io = kinds()["gpio"].open(config.device("io"), ctx)
    assert isinstance(sim, SimDevice) and isinstance(io, GpioDevice)
    return Rig(config, clock, io, sim)


def cabinet_c(plant: Plant, t_s: float) -> float:
    plant.advance_to(t_s)
    assert plant.state is not None
    return plant.state.cabinet_c


@pytest.mark.parametrize("active_high", [True, False])
def test_relay_switches_the_plant_heater(active_high: bool) -> None:
    rig = open_rig(config_text(heater_active_high=active_high))
    heater = rig.config.actuator("heater")
    on_level = 1 if active_high else 0
    try:
        assert Device.pin_factory is None
        assert rig.plant.state is not None
        assert rig.plant.state.heater_on is False  # started at its safe value
        assert rig.pin(27).state == 1 - on_level

        assert rig.io.write(heater, 1.0) == 1.0
        assert rig.pin(27).state == on_level
        assert rig.plant.state.heater_on is True
        assert rig.plant.signals(rig.clock.now())["heater_on"] == 1.0

        rig.clock.advance(60)
        assert rig.io.write(heater, 0.0) == 0.0
        assert rig.pin(27).state == 1 - on_level
        assert rig.plant.state.heater_on is False
        # The heater ran for the minute between the two writes.
        p = rig.plant.params
        assert rig.plant.state.energy_kwh > p.heater_w * 60 / 3.6e6
    finally:
        rig.close()


def test_the_plant_sees_the_pin_level_not_the_value_asked_for() -> None:
    rig = open_rig(config_text(heater_active_high=False))
    try:
        assert rig.plant.state is not None
        # Whatever drives the pin low closes an active-low relay.
        rig.io.outputs["heater"].pin.state = 0
        assert rig.plant.state.heater_on is True
        rig.io.outputs["heater"].pin.state = 1
        assert rig.plant.state.heater_on is False
    finally:
        rig.close()


def test_cabinet_warms_under_the_heater() -> None:
    rig = open_rig(config_text())
    fan, heater = rig.config.actuator("fan"), rig.config.actuator("heater")
    # A bare plant with the same start and no heater, as the reference.
    reference = Plant()
    try:
        rig.io.write(fan, 0.0)
        reference.set_fan(START, 0.0)
        assert cabinet_c(rig.plant, START) == cabinet_c(reference, START)
        rig.io.write(heater, 1.0)

        heated, unheated = [], []
        for _ in range(30):
            rig.clock.advance(60)
            heated.append(cabinet_c(rig.plant, rig.clock.now()))
            unheated.append(cabinet_c(reference, rig.clock.now()))
        assert all(b > a for a, b in itertools.pairwise(heated))

        # The equation is linear: the heater's share after 30 min with the
        # fan off is Q/UA * (1 - exp(-UA t / C)).
        p = PlantParams()
        extra = (
            p.heater_w
            / p.ua_w_k
            * (1 - math.exp(-p.ua_w_k * 1800 / p.heat_capacity_j_k))
        )
        assert heated[-1] - unheated[-1] == pytest.approx(extra, rel=1e-9)
        assert extra == pytest.approx(14.4949, abs=1e-4)

        # Switched off, the cabinet loses that share again.
        rig.io.write(heater, 0.0)
        rig.clock.advance(6 * 3600)
        left = cabinet_c(rig.plant, rig.clock.now()) - cabinet_c(
            reference, rig.clock.now()
        )
        assert left == pytest.approx(
            extra * math.exp(-p.ua_w_k * 6 * 3600 / p.heat_capacity_j_k), rel=1e-9
        )
    finally:
        rig.close()


@pytest.mark.parametrize(("active_high", "pin_duty"), [(True, 0.65), (False, 0.35)])
def test_pwm_duty_reaches_the_plant_fan(active_high: bool, pin_duty: float) -> None:
    rig = open_rig(config_text(fan_active_high=active_high))
    fan = rig.config.actuator("fan")
    try:
        assert rig.plant.state is not None
        assert rig.plant.state.fan_duty == pytest.approx(0.2)  # its safe value
        assert rig.pin(18).frequency == 25000

        assert rig.io.write(fan, 0.65) == pytest.approx(0.65)
        assert rig.pin(18).state == pytest.approx(pin_duty)
        assert rig.plant.state.fan_duty == pytest.approx(0.65)
        signals = rig.plant.signals(rig.clock.now())
        p = rig.plant.params
        assert signals["fan_duty"] == pytest.approx(0.65)
        assert signals["fan_current_a"] == pytest.approx(
            p.fan_power_w * 0.65 / p.fan_bus_v, abs=0.01
        )

        rig.io.write(fan, 0.0)
        assert rig.plant.state.fan_duty == 0.0
    finally:
        rig.close()


DOOR_FAULT = 'faults = [{ kind = "door_open", start_h = 1, duration_h = 0.5 }]'


@pytest.mark.parametrize("bounce_s", [0.0, 0.05])
def test_door_input_follows_the_plants_door_fault(bounce_s: float) -> None:
    rig = open_rig(config_text(faults=DOOR_FAULT, bounce_s=bounce_s))
    points = [rig.config.point("door_open"), rig.config.point("door_openings")]
    open_from, open_until = START + 3600, START + 5400
    times, states, counts, pin_levels = [], [], [], []
    try:
        for _ in range(2 * 360 + 1):  # two hours, every 10 s
            state, count = rig.io.read(points)
            times.append(rig.clock.now())
            states.append(state.value)
            counts.append(count.value)
            pin_levels.append(rig.pin(17).state)
            rig.clock.advance(10)
    finally:
        rig.close()
    door = [open_from <= t < open_until for t in times]
    # The switch pulls the pin low while the door is open.
    assert pin_levels == [0 if d else 1 for d in door]
    if bounce_s == 0:
        expected = [1.0 if d else 0.0 for d in door]
    else:
        # Driven just before a read, a new level must hold for bounce_s:
        # it is seen at the next poll, 10 s later.
        expected = [0.0] + [1.0 if d else 0.0 for d in door[:-1]]
    assert states == expected
    assert states.count(1.0) == 180  # half an hour of 10 s polls
    assert counts[-1] == 1.0
    assert counts == [
        float(any(s for s in states[: i + 1])) for i in range(len(states))
    ]


def test_polling_a_contact_leaves_the_plants_noise_alone() -> None:
    text = (
        config_text(faults=DOOR_FAULT)
        + """
[[points]]
name = "cabinet_temp_c"
device = "plant"
address = "cabinet_temp_c"
"""
    )
    temps: dict[bool, list[float | None]] = {}
    for poll_door in (False, True):
        rig = open_rig(text)
        temp = [rig.config.point("cabinet_temp_c")]
        door = [rig.config.point("door_open")]
        temps[poll_door] = []
        try:
            for _ in range(50):
                if poll_door:
                    rig.io.read(door)
                temps[poll_door].append(rig.sim.read(temp)[0].value)
                rig.clock.advance(120)
        finally:
            rig.close()
    assert temps[True] == temps[False]


def test_heater_feedback_contact_follows_the_relay() -> None:
    text = (
        config_text()
        + """
[[points]]
name = "heater_feedback"
device = "io"
pin = 5
pull_up = false
plant_signal = "heater_on"
"""
    )
    rig = open_rig(text)
    feedback = [rig.config.point("heater_feedback")]
    try:
        (sample,) = rig.io.read(feedback)
        assert sample.value == 0.0
        rig.io.write(rig.config.actuator("heater"), 1.0)
        (sample,) = rig.io.read(feedback)
        assert sample.value == 1.0
        assert rig.pin(5).state == 1  # pulled down: the contact drives it high
    finally:
        rig.close()


def test_any_point_on_the_pin_may_name_the_signal() -> None:
    # The state point names no signal, the counting point on the same pin
    # does: the pin follows the door for both.
    text = config_text(faults=DOOR_FAULT, bounce_s=0.0)
    text = text.replace('plant_signal = "door_open"\n', "").replace(
        'quantity = "count"', 'quantity = "count"\nplant_signal = "door_open"'
    )
    rig = open_rig(text)
    try:
        rig.clock.advance(3600)
        (state,) = rig.io.read([rig.config.point("door_open")])
        assert state.value == 1.0
    finally:
        rig.close()

    clash = config_text().replace(
        'quantity = "count"', 'quantity = "count"\nplant_signal = "heater_on"'
    )
    config = parse_config(clash)
    with pytest.raises(DeviceError) as err:
        kinds()["gpio"].open(config.device("io"), DriverContext(SimClock(), config))
    assert str(err.value) == (
        "GPIO device 'io': pin 17 is given plant signals door_open, heater_on; "
        "one pin follows one signal"
    )


def test_plant_keys_need_emulation() -> None:
    text = config_text().replace("emulate = true", 'pin_factory = "mock"')
    text = text.replace(
        'name = "fan"\ndevice = "io"\nkind = "analog"',
        'name = "fan"\ndevice = "io"\nkind = "binary"',
    )
    text = text.replace('plant_input = "heater"', 'plant_input = "heater"\npwm = true')
    with pytest.raises(ConfigError) as err:
        parse_config(text, "site.toml")
    assert err.value.problems == [
        "site.toml: points[0].plant_signal: needs emulate = true on GPIO device 'io' "
        "(only emulated pins are coupled to the simulated plant)",
        "site.toml: actuators[0].plant_input: needs emulate = true on GPIO device "
        "'io' (only emulated pins are coupled to the simulated plant)",
        "site.toml: actuators[0].plant_input: 'heater' is switched by a relay; it "
        "needs a digital output (pwm = false)",
        "site.toml: actuators[1].plant_input: needs emulate = true on GPIO device "
        "'io' (only emulated pins are coupled to the simulated plant)",
    ]


def test_emulation_with_a_hardware_factory_is_refused() -> None:
    text = config_text().replace(
        "emulate = true", 'emulate = true\npin_factory = "lgpio"'
    )
    text = text.replace('plant_signal = "door_open"', 'plant_signal = "power_w"')
    with pytest.raises(ConfigError) as err:
        parse_config(text, "site.toml")
    assert err.value.problems == [
        "site.toml: devices[1].pin_factory: 'lgpio' cannot be used with emulate = "
        'true (emulated pins are mock pins; leave pin_factory out or set "mock")',
        "site.toml: points[0].plant_signal: 'power_w' is not one of door_open, "
        "heater_on",
    ]


# -- in the agent -------------------------------------------------------------


@dataclass
class Schedule:
    """A last stage that writes the actuators at set agent times, as a policy would."""

    agent: Agent
    writes: dict[float, list[tuple[str, float]]]
    name: str = "schedule"
    seen: list[tuple[float, float | None, bool]] = field(default_factory=list)

    def process(self, frame: Frame) -> None:
        for name, value in self.writes.pop(frame.ts, []):
            act = self.agent.actuators.write(
                name, value, source="test", reason="schedule"
            )
            assert act is not None
        door = frame.latest.get("door_open")
        plant = self.agent.driver_ctx.shared["plant"]
        self.seen.append(
            (frame.ts, door.value if door else None, plant.state.heater_on)
        )

    def close(self) -> None:
        return None


def test_agent_runs_the_emulated_io_and_leaves_the_pins_safe(tmp_path: Path) -> None:
    text = (
        f'[agent]\nstate_dir = "{tmp_path}"\n'
        + config_text(
            faults='faults = [{ kind = "door_open", start_h = 0.1, duration_h = 0.1 }]'
        )
        + """
[[points]]
name = "cabinet_temp_c"
device = "plant"
address = "cabinet_temp_c"
period_s = 10
"""
    )
    clock = SimClock(start=START)
    agent = Agent(parse_config(text), clock)
    schedule = Schedule(
        agent,
        {
            START + 60: [("heater", 1.0), ("fan", 0.0)],
            START + 900: [("fan", 0.8)],
            START + 1200: [("heater", 0.0)],
            START + 1500: [("heater", 1.0), ("fan", 0.4)],
        },
    )
    agent.stages.append(schedule)
    io = agent.workers["io"].device
    assert isinstance(io, GpioDevice)
    plant: Plant = agent.driver_ctx.shared["plant"]
    heater_pin, fan_pin = io.factory.pin(27), io.factory.pin(18)

    agent.run(30 * 60)

    assert schedule.writes == {}
    by_ts = {ts: (door, heater) for ts, door, heater in schedule.seen}
    assert by_ts[START + 600][1] is True
    assert by_ts[START + 1200][1] is False
    assert by_ts[START + 1500][1] is True
    # The door is open from 6 to 12 min; the input sees it one poll later.
    assert [by_ts[START + t][0] for t in (350, 360, 370, 720, 730)] == [0, 0, 1, 1, 0]
    assert sum(door for _, door, _ in schedule.seen if door) == 36

    # Every level the pins took. The relay (active low): floating input,
    # off at open, on at 1 min, off at 20, on at 25, off at shutdown. The
    # fan: its safe duty at open, the schedule, its safe duty at shutdown,
    # then 0 when the pins are released after it.
    assert [s.state for s in heater_pin.states] == [0, 1, 0, 1, 0, 1]
    assert [s.state for s in fan_pin.states] == pytest.approx(
        [0, 0.2, 0.0, 0.8, 0.4, 0.2, 0.0]
    )
    assert heater_pin.function == fan_pin.function == "input"
    # The plant holds the safe state the pins drove last.
    assert plant.state is not None
    assert plant.state.heater_on is False
    assert plant.state.fan_duty == pytest.approx(0.2)
