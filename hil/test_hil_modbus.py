"""Modbus peers end to end: the meter profile over TCP and RTU, with faults."""

from __future__ import annotations

from agent.clock import SimClock
from agent.config import Config, parse_config
from agent.reading import Quality
from drivers.base import DriverContext
from drivers.modbus.device import ModbusDevice
from drivers.registry import kinds

QUANTITIES = ("voltage_v", "current_a", "power_w", "frequency_hz", "energy_kwh")


def meter_config(device: str) -> Config:
    points = "".join(
        f'[[points]]\nname = "{q}"\ndevice = "meter"\nprofile = "energy_meter"\n'
        f'quantity = "{q}"\n'
        for q in QUANTITIES
    )
    return parse_config(f'[[devices]]\nname = "meter"\n{device}\n{points}', "hil.toml")


def open_meter(config: Config, clock: SimClock) -> ModbusDevice:
    d = config.device("meter")
    dev = kinds()[d.kind].open(d, DriverContext(clock=clock, config=config))
    assert isinstance(dev, ModbusDevice)
    return dev


def test_tcp_meter_with_faults(tcp_meter) -> None:
    server, unit = tcp_meter
    config = meter_config(
        f'kind = "modbus-tcp"\nhost = "127.0.0.1"\nport = {server.port}\n'
        "timeout_s = 0.3\nbackoff_initial_s = 2\nmax_gap = 0"
    )
    clock = SimClock()
    dev = open_meter(config, clock)
    try:
        assert [s.value for s in dev.read(config.points)] == [
            230.5,
            4.25,
            979.625,
            50.0,
            1234.5,
        ]
        unit.faults.delay_s = 0.5  # slower than the timeout
        assert dev.read(config.points)[0].quality is Quality.TIMEOUT
        unit.faults.clear()
        unit.faults.exception = 4
        assert dev.read(config.points)[0].reason.startswith(
            "exception 4 (server device failure)"
        )
        unit.faults.clear()
        server.stop()  # reboot
        assert dev.read(config.points)[0].quality is not Quality.GOOD
        server.start()
        clock.advance(2.0)
        assert dev.read(config.points)[0].value == 230.5
    finally:
        dev.close()


def test_rtu_line_with_faults(rtu_line) -> None:
    server, units = rtu_line
    config = meter_config(
        f'kind = "modbus-rtu"\nport = "{server.port}"\nbaud = 19200\n'
        "timeout_s = 0.3\nretries = 0\nmax_gap = 0"
    )
    dev = open_meter(config, SimClock())
    try:
        assert dev.read(config.points)[4].value == 1234.5
        units[0].faults.bad_crc = True
        assert dev.read(config.points)[0].reason.startswith("bad CRC")
        units[0].faults.clear()
        units[0].faults.gone = True
        assert dev.read(config.points)[0].reason.startswith("no reply from unit 1")
        units[0].faults.clear()
        units[0].faults.no_reply = True
        assert dev.read(config.points)[0].quality is Quality.TIMEOUT
    finally:
        dev.close()


def test_real_rtu_meter(real_serial) -> None:
    port, unit = real_serial
    config = meter_config(f'kind = "modbus-rtu"\nport = "{port}"\nunit = {unit}')
    dev = open_meter(config, SimClock())
    try:
        assert any(s.quality is Quality.GOOD for s in dev.read(config.points))
    finally:
        dev.close()


def test_real_tcp_meter(real_tcp) -> None:
    host, unit = real_tcp
    config = meter_config(f'kind = "modbus-tcp"\nhost = "{host}"\nunit = {unit}')
    dev = open_meter(config, SimClock())
    try:
        assert any(s.quality is Quality.GOOD for s in dev.read(config.points))
    finally:
        dev.close()
