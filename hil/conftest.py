"""Peers for the hardware-in-the-loop suite: simulators, or real wiring if described.

Real hardware is described by environment variables:
EDGETWIN_HIL_MODBUS_PORT (a serial port such as /dev/ttyUSB0),
EDGETWIN_HIL_MODBUS_HOST (a Modbus TCP device) and EDGETWIN_HIL_MODBUS_UNIT.
Without them the real-hardware cases skip and say why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from drivers.modbus.sim import RtuSimServer, SimUnit, TcpSimServer

METER = {
    "voltage_v": 230.5,
    "current_a": 4.25,
    "power_w": 979.625,
    "frequency_hz": 50.0,
    "energy_kwh": 1234.5,
}


def meter_unit(unit: int) -> SimUnit:
    """Return a simulated energy meter answering as ``unit``."""
    from drivers.modbus import profiles

    u = SimUnit(unit)
    for name, q in profiles.load("energy_meter").items():
        u.set(q.table, q.address, METER[name], q.dtype)
    return u


@pytest.fixture
def tcp_meter() -> Iterator[tuple[TcpSimServer, SimUnit]]:
    u = meter_unit(1)
    with TcpSimServer([u]) as server:
        yield server, u


@pytest.fixture
def rtu_line() -> Iterator[tuple[RtuSimServer, list[SimUnit]]]:
    units = [meter_unit(n) for n in (1, 2)]
    with RtuSimServer(units) as server:
        yield server, units


@pytest.fixture
def real_serial() -> tuple[str, int]:
    port = os.environ.get("EDGETWIN_HIL_MODBUS_PORT")
    if not port:
        pytest.skip("no real RS-485 line: set EDGETWIN_HIL_MODBUS_PORT (and _UNIT)")
    return port, int(os.environ.get("EDGETWIN_HIL_MODBUS_UNIT", "1"))


@pytest.fixture
def real_tcp() -> tuple[str, int]:
    host = os.environ.get("EDGETWIN_HIL_MODBUS_HOST")
    if not host:
        pytest.skip("no real Modbus TCP device: set EDGETWIN_HIL_MODBUS_HOST")
    return host, int(os.environ.get("EDGETWIN_HIL_MODBUS_UNIT", "1"))
