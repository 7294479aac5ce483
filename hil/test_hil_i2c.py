"""I2C chips end to end through their device kinds: emulated with faults, or real.

Each chip (BME280, SHT3x, ADS1115, INA219) is opened the way the agent opens
it, from a configuration, on the emulated bus; the tests then make the chip
stop acknowledging for a few transactions, vanish for good, power-cycle
(losing its configuration and calibration) or answer with another chip's
identity. The read cases run against a real bus too when
EDGETWIN_HIL_I2C_BUS and EDGETWIN_HIL_I2C_CHIPS describe one.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.clock import RealClock, SimClock
from agent.config import Config, parse_config
from agent.reading import Quality, Sample
from agent.runtime import Agent
from agent.store.store import Store
from drivers.base import DriverContext
from drivers.i2c import sht3x
from drivers.i2c.device import I2CDevice
from drivers.i2c.emu.bme280 import EmulatedBme280
from drivers.i2c.emu.bus import EmulatedBus
from drivers.i2c.emu.chip import EmulatedChip
from drivers.i2c.emu.plant import make_chip
from drivers.registry import kinds

START = 1_767_225_600.0

DEVICES = """
[[devices]]
name = "env"
kind = "bme280"
address = 0x76
emulate = true
retries = 2

[[devices]]
name = "air"
kind = "sht3x"
address = 0x44
emulate = true
retries = 2

[[devices]]
name = "adc"
kind = "ads1115"
address = 0x48
emulate = true
retries = 2

[[devices]]
name = "meter"
kind = "ina219"
address = 0x40
shunt_ohm = 0.1
max_current_a = 3.2
emulate = true
retries = 2
"""

POINTS = """
[[points]]
name = "cabinet_temp_c"
device = "env"
quantity = "temperature"
period_s = 1

[[points]]
name = "cabinet_pressure_pa"
device = "env"
quantity = "pressure"
period_s = 1

[[points]]
name = "cabinet_rh"
device = "env"
quantity = "humidity"
period_s = 1

[[points]]
name = "ambient_temp_c"
device = "air"
quantity = "temperature"
period_s = 2

[[points]]
name = "ambient_rh"
device = "air"
quantity = "humidity"
period_s = 2

[[points]]
name = "fan_duty_v"
device = "adc"
channel = "a0"
full_scale_v = 4.096
period_s = 1

[[points]]
name = "fan_bus_v"
device = "meter"
quantity = "bus_voltage"
period_s = 5

[[points]]
name = "fan_current_a"
device = "meter"
quantity = "current"
period_s = 5
"""

# What each emulated chip is made to measure.
BME280_IN = {"temperature_c": 21.5, "pressure_pa": 100000.0, "humidity_pct": 40.0}
SHT3X_IN = {"temperature_c": 23.4, "humidity_pct": 55.0}
ADS1115_IN = {"a0": 1.5, "a1": 0.0, "a2": 0.0, "a3": 0.0}
INA219_IN = {"current_a": 0.5, "bus_voltage_v": 12.0}
SOURCES = {0x76: BME280_IN, 0x44: SHT3X_IN, 0x48: ADS1115_IN, 0x40: INA219_IN}
ADDRESS = {"env": 0x76, "air": 0x44, "adc": 0x48, "meter": 0x40}
KIND = {"env": "bme280", "air": "sht3x", "adc": "ads1115", "meter": "ina219"}

# INA219 on 0.1 Ω for 3.2 A (datasheet 8.5.1): Current_LSB = 3.2 / 2**15,
# Cal = trunc(0.04096 / (Current_LSB * 0.1)) = 4194. 0.5 A gives 5000 shunt
# counts of 10 µV; the current register holds trunc(5000 * 4194 / 4096).
INA219_CAL = 4194
INA219_CURRENT_A = (5000 * INA219_CAL // 4096) * 3.2 / 32768

# The right value of every point for the inputs above.
EXPECTED = {
    "cabinet_temp_c": 21.5,
    # Pressure and humidity come in ADC steps: within one step of the
    # datasheet's resolution (0.18 Pa, 0.008 %RH).
    "cabinet_pressure_pa": pytest.approx(100000.0, abs=0.18),
    "cabinet_rh": pytest.approx(40.0, abs=0.008),
    # SHT3x: 16-bit words, T = -45 + 175 * raw / 65535, RH = 100 * raw / 65535.
    "ambient_temp_c": sht3x.temperature_c(round((23.4 + 45) * 65535 / 175)),
    "ambient_rh": sht3x.humidity_pct(round(55.0 * 65535 / 100)),
    # ADS1115 at ±4.096 V: 1.5 V is code 12000 exactly (LSB 125 µV).
    "fan_duty_v": 1.5,
    "fan_bus_v": 12.0,  # 3000 counts of 4 mV
    "fan_current_a": INA219_CURRENT_A,
}

# What a reading from a real chip may plausibly be, by quantity.
PLAUSIBLE = {
    "temperature": (-40.0, 85.0),
    "pressure": (30_000.0, 110_000.0),
    "humidity": (0.0, 100.0),
    "a0": (-6.144, 6.144),
    "bus_voltage": (0.0, 32.0),
    "shunt_voltage": (-0.32, 0.32),
    "current": (-100.0, 100.0),
    "power": (0.0, 3200.0),
}


@dataclass
class Rig:
    """The four chips opened through their kinds on one emulated bus."""

    config: Config
    clock: SimClock
    ctx: DriverContext
    bus: EmulatedBus
    devices: dict[str, I2CDevice]

    def chip(self, device: str) -> EmulatedChip:
        return self.bus.chips[ADDRESS[device]]

    def read(self, device: str) -> dict[str, Sample]:
        points = [p for p in self.config.points if p.device == device]
        samples = self.devices[device].read(points)
        return {p.name: s for p, s in zip(points, samples, strict=True)}


def feed(bus: EmulatedBus) -> None:
    """Make every emulated chip on ``bus`` measure its fixed inputs."""
    for address, values in SOURCES.items():
        chip = bus.chips[address]
        chip.source = lambda values=values: values  # type: ignore[attr-defined]


@pytest.fixture
def rig() -> Iterator[Rig]:
    config = parse_config(DEVICES + POINTS, "hil-i2c.toml")
    clock = SimClock(start=START)
    ctx = DriverContext(clock=clock, config=config)
    devices: dict[str, I2CDevice] = {}
    try:
        for d in config.devices:
            dev = kinds()[d.kind].open(d, ctx)
            assert isinstance(dev, I2CDevice)
            devices[d.name] = dev
        bus = ctx.shared["i2c-emulated-1"]
        feed(bus)
        yield Rig(config, clock, ctx, bus, devices)
    finally:
        for dev in devices.values():
            dev.close()


def assert_right(samples: dict[str, Sample]) -> None:
    for name, s in samples.items():
        assert s.quality is Quality.GOOD, (name, s.reason)
        assert s.value == EXPECTED[name], name


@pytest.mark.parametrize("device", ["env", "air", "adc", "meter"])
def test_each_chip_reads_right_values(rig: Rig, device: str) -> None:
    assert_right(rig.read(device))


@pytest.mark.parametrize("device", ["env", "air", "adc", "meter"])
def test_no_acknowledge_then_recovery_within_the_retries(rig: Rig, device: str) -> None:
    assert_right(rig.read(device))
    dev = rig.devices[device]
    attempts = dev.attempts

    rig.chip(device).fail(2)  # two transactions get errno 121, the third answers
    assert_right(rig.read(device))
    assert dev.attempts - attempts == 3  # two failed attempts, then a good one


@pytest.mark.parametrize("device", ["env", "air", "adc", "meter"])
def test_chip_gone_gives_bad_quality_with_the_reason(rig: Rig, device: str) -> None:
    rig.chip(device).fail(None)
    samples = rig.read(device)

    address = ADDRESS[device]
    chip = rig.devices[device].chip.chip
    reason = (
        f"{chip} at 0x{address:02x}: I/O error after 3 attempts: "
        f"[Errno 121] Remote I/O error: '0x{address:02x}'"
    )
    assert {s.quality for s in samples.values()} == {Quality.DEVICE_ERROR}
    assert {s.reason for s in samples.values()} == {reason}

    rig.chip(device).recover()
    assert_right(rig.read(device))


def power_cycle(rig: Rig, device: str, glitch_transactions: int) -> EmulatedChip:
    """Replace the chip by a fresh one in its power-on state, as after a reboot.

    The fresh chip refuses ``glitch_transactions`` transactions first, as a
    chip does while its supply dips.
    """
    address = ADDRESS[device]
    old = rig.bus.chips[address]
    options = rig.config.device(device).options
    shunt_ohm = getattr(options.chip, "shunt_ohm", 0.1)
    fresh = make_chip(KIND[device], old.source, rig.clock, shunt_ohm)  # type: ignore[attr-defined]
    rig.bus.detach(address)
    rig.bus.attach(address, fresh)
    fresh.fail(glitch_transactions)
    return fresh


def test_rebooted_bme280_is_configured_again(rig: Rig) -> None:
    assert_right(rig.read("env"))
    fresh = power_cycle(rig, "env", glitch_transactions=1)
    assert isinstance(fresh, EmulatedBme280)
    # After power-on ctrl_hum is 0: humidity would be skipped (0x8000).
    assert fresh.regs[0xF2] == 0

    assert_right(rig.read("env"))
    assert fresh.regs[0xF2] == 0b001  # humidity oversampling x1 written again


def test_rebooted_ina219_gets_its_calibration_back(rig: Rig) -> None:
    assert_right(rig.read("meter"))
    fresh = power_cycle(rig, "meter", glitch_transactions=1)
    # After power-on the calibration register is 0: the current would read 0 A.
    assert fresh.cal == 0  # type: ignore[attr-defined]

    assert_right(rig.read("meter"))
    assert fresh.cal == INA219_CAL  # type: ignore[attr-defined]


@pytest.mark.parametrize("device", ["air", "adc"])
def test_rebooted_chip_reads_right_again(rig: Rig, device: str) -> None:
    assert_right(rig.read(device))
    power_cycle(rig, device, glitch_transactions=1)
    assert_right(rig.read(device))


def test_silent_ina219_reboot_is_noticed(rig: Rig) -> None:
    assert_right(rig.read("meter"))
    power_cycle(rig, "meter", glitch_transactions=0)
    assert_right(rig.read("meter"))


def swap_chip(rig: Rig, device: str, other: EmulatedChip) -> None:
    """Put ``other`` where the device's chip was; the swap costs one transaction."""
    address = ADDRESS[device]
    rig.bus.detach(address)
    rig.bus.attach(address, other)
    other.fail(1)


@pytest.mark.parametrize(
    ("chip_id", "seen"),
    [(0x58, "has id 0x58 (a BMP280, which has no humidity)"), (0x61, "has id 0x61")],
)
def test_wrong_chip_id_is_a_clear_error(rig: Rig, chip_id: int, seen: str) -> None:
    assert_right(rig.read("env"))
    other = EmulatedBme280(lambda: BME280_IN, clock=rig.clock, chip_id=chip_id)
    swap_chip(rig, "env", other)

    samples = rig.read("env")
    reason = f"BME280 at 0x76: chip at 0x76 {seen}, a BME280 has 0x60"
    assert {s.quality for s in samples.values()} == {Quality.DEVICE_ERROR}
    assert {s.reason for s in samples.values()} == {reason}


def test_another_chip_where_an_sht3x_should_be_is_a_clear_error(rig: Rig) -> None:
    other = make_chip("ina219", lambda: INA219_IN, rig.clock)
    swap_chip(rig, "air", other)

    samples = rig.read("air")
    reason = (
        "SHT3x at 0x44: chip at 0x44 sent a status word with a wrong CRC; "
        "it is not an SHT3x or the bus is noisy"
    )
    assert {s.quality for s in samples.values()} == {Quality.DEVICE_ERROR}
    assert {s.reason for s in samples.values()} == {reason}


class ScheduledClock(SimClock):
    """A simulated clock that runs ``actions`` once time reaches their moment."""

    def __init__(self, start: float) -> None:
        super().__init__(start=start)
        self.actions: list[tuple[float, Callable[[], None]]] = []
        self._lock_actions = threading.Lock()

    def sleep_until(self, t: float, stop: threading.Event | None = None) -> bool:
        with self._lock_actions:
            due = [a for a in self.actions if a[0] <= t]
            self.actions = [a for a in self.actions if a[0] > t]
        for _, action in due:
            action()
        return super().sleep_until(t, stop)


def test_agent_keeps_every_other_period_when_a_chip_vanishes(tmp_path: Path) -> None:
    config = parse_config(
        f'[agent]\nstate_dir = "{tmp_path}"\n' + DEVICES + POINTS, "hil-i2c.toml"
    )
    clock = ScheduledClock(START)
    agent = Agent(config, clock, state_dir=tmp_path)
    bus: EmulatedBus = agent.driver_ctx.shared["i2c-emulated-1"]
    # The SHT3x falls off the bus for good after 30 s of a 120 s run.
    clock.actions.append((START + 29.5, lambda: bus.chips[0x44].fail(None)))
    agent.run(120)

    with Store(tmp_path / "edgetwin.db") as store:
        readings = list(store.iter_readings())
        faults = store.events("fault")
        cleared = store.events("fault_cleared")
    by_point: dict[str, list] = {}
    for r in readings:
        by_point.setdefault(r.point, []).append(r)

    # Every other point: each period slot read, all good.
    for p in config.points:
        if p.device == "air":
            continue
        got = by_point[p.name]
        assert [r.ts for r in got] == [
            START + i * p.period_s for i in range(int(120 / p.period_s))
        ], p.name
        assert {r.quality for r in got} == {Quality.GOOD}, p.name

    # The vanished chip: still polled on its period, bad from then on.
    for name in ("ambient_temp_c", "ambient_rh"):
        got = by_point[name]
        assert [r.ts for r in got] == [START + 2 * i for i in range(60)]
        assert {r.quality for r in got if r.ts < START + 30} == {Quality.GOOD}
        late = [r for r in got if r.ts >= START + 30]
        assert {r.quality for r in late} == {Quality.DEVICE_ERROR}
    # The store keeps each reading's quality; the reason is in the outage
    # event, recorded once, when it starts.
    assert [(e.ts, e.message) for e in faults] == [
        (
            START + 30,
            "device 'air' not answering: SHT3x at 0x44: I/O error after 3 "
            "attempts: [Errno 121] Remote I/O error: '0x44'",
        )
    ]
    assert cleared == []
    assert Counter(r.point for r in readings)["cabinet_temp_c"] == 120


# The points read from each kind of real chip.
REAL_POINTS = {
    "bme280": ("temperature", "pressure", "humidity"),
    "sht3x": ("temperature", "humidity"),
    "ads1115": ("a0",),
    "ina219": ("bus_voltage", "shunt_voltage", "current", "power"),
}


def real_config(bus: int, kind: str, address: int) -> Config:
    """Return a configuration with one real ``kind`` chip and all its points."""
    points = ""
    for q in REAL_POINTS[kind]:
        what = f'channel = "{q}"' if kind == "ads1115" else f'quantity = "{q}"'
        points += f'[[points]]\nname = "{q}"\ndevice = "chip"\n{what}\n'
    text = (
        f'[[devices]]\nname = "chip"\nkind = "{kind}"\nbus = {bus}\n'
        f"address = 0x{address:02x}\nretries = 2\n{points}"
    )
    return parse_config(text, "hil-real-i2c.toml")


def test_real_chip_reads_plausible_values(
    real_i2c_chip: tuple[int, str, int],
) -> None:
    bus, kind, address = real_i2c_chip
    config = real_config(bus, kind, address)
    # A real chip measures in real time: the driver's waits must be real.
    ctx = DriverContext(clock=RealClock(), config=config)
    dev = kinds()[kind].open(config.device("chip"), ctx)
    try:
        samples = dev.read(config.points)
    finally:
        dev.close()
    for p, s in zip(config.points, samples, strict=True):
        assert s.quality is Quality.GOOD, (p.name, s.reason)
        low, high = PLAUSIBLE[p.name]
        assert s.value is not None and low <= s.value <= high, (p.name, s.value)


def test_silent_bme280_reboot_is_noticed(rig: Rig) -> None:
    assert_right(rig.read("env"))
    fresh = power_cycle(rig, "env", glitch_transactions=0)
    assert isinstance(fresh, EmulatedBme280)
    # No failed transaction: only the skipped humidity shows the reboot.
    assert_right(rig.read("env"))
    assert fresh.regs[0xF2] == 0b001
