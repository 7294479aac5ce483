"""The Modbus driver against a simulated device on loopback TCP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.clock import SimClock
from agent.config import Config, parse_config
from agent.errors import DeviceError
from agent.reading import Quality
from drivers.base import DriverContext
from drivers.modbus.device import ModbusDevice
from drivers.modbus.sim import SimUnit, TcpSimServer
from drivers.registry import kinds


def make_config(port: int, extra: str = "", device: str = "") -> Config:
    text = f"""
[[devices]]
name = "meter"
kind = "modbus-tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.4
retries = 1
backoff_initial_s = 1
backoff_max_s = 8
{device}

[[points]]
name = "voltage_v"
device = "meter"
profile = "energy_meter"
quantity = "voltage_v"

[[points]]
name = "current_a"
device = "meter"
profile = "energy_meter"
quantity = "current_a"

[[points]]
name = "power_w"
device = "meter"
profile = "energy_meter"
quantity = "power_w"

[[points]]
name = "setpoint"
device = "meter"
address = "40101"
type = "int32"
layout = "CDAB"

[[points]]
name = "status_bit"
device = "meter"
table = "holding"
address = 102
type = "bit"
bit = 3
{extra}
"""
    return parse_config(text, "test.toml")


@pytest.fixture
def unit() -> SimUnit:
    u = SimUnit(1)
    # The registers between the meter's quantities exist, as on most meters.
    u.set_registers("input", 0, [0] * 14)
    u.set("input", 0, 230.5, "float32")
    u.set("input", 6, 4.25, "float32")
    u.set("input", 12, 979.625, "float32")
    u.set("holding", 100, -70000, "int32", layout="CDAB")
    u.set_registers("holding", 102, [0b1000])
    return u


@pytest.fixture
def server(unit: SimUnit) -> Iterator[TcpSimServer]:
    with TcpSimServer([unit]) as s:
        yield s


def open_meter(config: Config, clock: SimClock) -> ModbusDevice:
    ctx = DriverContext(clock=clock, config=config)
    dev = kinds()["modbus-tcp"].open(config.device("meter"), ctx)
    assert isinstance(dev, ModbusDevice)
    return dev


def test_reads_each_point_in_coalesced_requests(
    server: TcpSimServer, unit: SimUnit
) -> None:
    config = make_config(server.port)
    with_clock = SimClock()
    dev = open_meter(config, with_clock)
    try:
        samples = dev.read(config.points)
    finally:
        dev.close()
    assert [s.value for s in samples] == [230.5, 4.25, 979.625, -70000, 1.0]
    assert all(s.quality is Quality.GOOD for s in samples)
    # Input 0-13 in one request, holding 100-102 in another.
    assert unit.requests == 2
    assert dev.requests == 2


def test_consecutive_float32_values_land_on_their_points(
    server: TcpSimServer, unit: SimUnit
) -> None:
    points = "\n".join(
        f'[[points]]\nname = "f{i}"\ndevice = "meter"\naddress = {200 + 2 * i}\n'
        f'table = "holding"\ntype = "float32"\nlayout = "DCBA"\n'
        for i in range(6)
    )
    for i in range(6):
        unit.set("holding", 200 + 2 * i, 1.5 * i - 2.25, "float32", layout="DCBA")
    config = make_config(server.port, extra=points)
    dev = open_meter(config, SimClock())
    try:
        before = unit.requests
        samples = dev.read(config.points[5:])
    finally:
        dev.close()
    assert [s.value for s in samples] == [1.5 * i - 2.25 for i in range(6)]
    assert unit.requests - before == 1


def test_exception_reply_is_bad_quality_with_reason(server: TcpSimServer) -> None:
    extra = '[[points]]\nname = "missing"\ndevice = "meter"\naddress = "40201"\n'
    config = make_config(server.port, extra=extra)
    dev = open_meter(config, SimClock())
    try:
        samples = dev.read(config.points)
    finally:
        dev.close()
    assert samples[-1].quality is Quality.DEVICE_ERROR
    assert (
        samples[-1].reason
        == "exception 2 (illegal data address) reading holding 200-200 of unit 1"
    )
    assert samples[0].quality is Quality.GOOD


def test_injected_exception_and_no_reply(server: TcpSimServer, unit: SimUnit) -> None:
    config = make_config(server.port)
    dev = open_meter(config, SimClock())
    try:
        unit.faults.exception = 6
        s = dev.read(config.points[:1])[0]
        assert (s.quality, s.reason) == (
            Quality.DEVICE_ERROR,
            "exception 6 (server device busy) reading input 0-1 of unit 1",
        )
        unit.faults.clear()
        unit.faults.no_reply = True
        before = unit.requests
        samples = dev.read(config.points)
        # Two attempts at the first request, then the rest is skipped.
        assert unit.requests - before == 2
        # Holding 100-102 goes first (blocks are sorted by table).
        assert samples[3].reason == (
            "no reply from unit 1 within 0.2 s reading holding 100-102 of unit 1"
        )
        assert all(s.quality is Quality.TIMEOUT for s in samples)
        assert samples[0].reason == "skipped: " + samples[3].reason
        unit.faults.clear()
        assert dev.read(config.points)[0].value == 230.5
    finally:
        dev.close()


def test_rebooted_device_is_read_again_after_backoff(server: TcpSimServer) -> None:
    config = make_config(server.port)
    clock = SimClock()
    dev = open_meter(config, clock)
    try:
        assert dev.read(config.points[:1])[0].value == 230.5
        server.stop()

        # The dropped connection is found, then reconnecting is refused.
        s1 = dev.read(config.points[:1])[0]
        assert s1.quality is not Quality.GOOD
        s2 = dev.read(config.points[:1])[0]
        assert s2.quality is Quality.DEVICE_ERROR
        assert "reconnecting in" in s2.reason or "cannot connect" in s2.reason

        server.start()
        # Still inside the backoff: no attempt is made, whatever the peer does.
        s3 = dev.read(config.points[:1])[0]
        assert "reconnecting in" in s3.reason
        clock.advance(8.0)
        assert dev.read(config.points[:1])[0].value == 230.5
    finally:
        dev.close()


def test_backoff_doubles_up_to_its_cap() -> None:
    # Nothing listens on a port taken from a server that has stopped.
    u = SimUnit(1)
    with TcpSimServer([u]) as s:
        port = s.port
    config = make_config(port)
    clock = SimClock()
    dev = open_meter(config, clock)
    waits = []
    try:
        for _ in range(6):
            dev.read(config.points[:1])
            reason = dev.read(config.points[:1])[0].reason
            waits.append(float(reason.split("reconnecting in ")[1].split(" s")[0]))
            clock.advance(waits[-1])
    finally:
        dev.close()
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_writes_with_read_back(server: TcpSimServer, unit: SimUnit) -> None:
    unit.set_registers("coil", 0, [0])
    unit.set_registers("holding", 300, [0, 0, 0])
    extra = """
[[actuators]]
name = "relay"
device = "meter"
address = "00001"

[[actuators]]
name = "speed"
device = "meter"
kind = "analog"
max = 100000
address = 300
table = "holding"
type = "float32"
layout = "CDAB"

[[actuators]]
name = "mode"
device = "meter"
kind = "analog"
max = 10
address = "40303"
"""
    config = make_config(server.port, extra=extra)
    dev = open_meter(config, SimClock())
    try:
        assert dev.write(config.actuator("relay"), 1.0) == 1.0
        assert unit.get_registers("coil", 0, 1) == [1]
        assert dev.write(config.actuator("relay"), 0.0) == 0.0
        assert dev.write(config.actuator("speed"), 1234.5) == 1234.5
        assert unit.get_registers("holding", 300, 2) == [
            0x5000,
            0x449A,
        ]  # 1234.5 is 44 9A 50 00
        assert dev.write(config.actuator("mode"), 7) == 7
        unit.faults.exception = 4
        with pytest.raises(DeviceError) as err:
            dev.write(config.actuator("mode"), 3)
        assert str(err.value) == (
            "actuator 'mode': writing 3 to holding 302 of unit 1 failed: "
            "exception 4 (server device failure)"
        )
    finally:
        dev.close()
