"""Peers for the hardware-in-the-loop suite: simulators, or real wiring if described.

Every case runs against emulated peers; the real-hardware cases run too when
the wiring is described by environment variables, and otherwise skip and say
which variables they need:

EDGETWIN_HIL_MODBUS_PORT
    A serial port with a Modbus RTU energy meter on it, e.g. /dev/ttyUSB0.
EDGETWIN_HIL_MODBUS_HOST
    A Modbus TCP energy meter, e.g. 192.168.1.50.
EDGETWIN_HIL_MODBUS_UNIT
    The meter's unit id on either link (default 1).
EDGETWIN_HIL_I2C_BUS
    The N of /dev/i2c-N the chips are on, e.g. 1.
EDGETWIN_HIL_I2C_CHIPS
    The chips on that bus as kind@address, comma-separated, e.g.
    "bme280@0x76,ina219@0x40" (kinds: bme280, sht3x, ads1115, ina219).
EDGETWIN_HIL_GPIO_OUT, EDGETWIN_HIL_GPIO_IN
    BCM numbers of an output pin and an input pin joined by a wire.
GPIOZERO_PIN_FACTORY
    The pin backend for the GPIO loop-back: lgpio, rpigpio or native.

hil/README.md says how a technician runs the suite on a board.
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


# -- I2C --------------------------------------------------------------------

I2C_KINDS = ("bme280", "sht3x", "ads1115", "ina219")


def parse_i2c_chips(text: str) -> list[tuple[str, int]]:
    """Parse EDGETWIN_HIL_I2C_CHIPS ("bme280@0x76,ina219@0x40") into pairs.

    Raises ``ValueError`` with one line naming the variable and the bad entry.
    """
    chips = []
    for entry in filter(None, (e.strip() for e in text.split(","))):
        kind, _, address = entry.partition("@")
        try:
            number = int(address, 0)
        except ValueError:
            number = -1
        if kind not in I2C_KINDS or not 0 <= number <= 0x7F:
            raise ValueError(
                f"EDGETWIN_HIL_I2C_CHIPS: {entry!r} is not kind@address with kind "
                f"one of {', '.join(I2C_KINDS)} and address 0x00..0x7f"
            )
        chips.append((kind, number))
    return chips


def real_i2c_params() -> list[object]:
    """Return one test parameter per real chip, or one that skips and says why."""
    bus = os.environ.get("EDGETWIN_HIL_I2C_BUS", "").strip()
    chips = parse_i2c_chips(os.environ.get("EDGETWIN_HIL_I2C_CHIPS", ""))
    if not bus or not chips:
        why = (
            "no real I2C bus: set EDGETWIN_HIL_I2C_BUS (e.g. 1) and "
            'EDGETWIN_HIL_I2C_CHIPS (e.g. "bme280@0x76,ina219@0x40")'
        )
        return [pytest.param(None, marks=pytest.mark.skip(reason=why), id="none")]
    if not bus.isdigit():
        raise ValueError(f"EDGETWIN_HIL_I2C_BUS: {bus!r} is not a bus number (0..255)")
    return [
        pytest.param((int(bus), kind, address), id=f"{kind}@0x{address:02x}")
        for kind, address in chips
    ]


# -- GPIO -------------------------------------------------------------------


@pytest.fixture
def real_gpio_loop() -> tuple[str, int, int]:
    """Return (pin factory, output pin, input pin) of a real loop-back wire."""
    out_pin = os.environ.get("EDGETWIN_HIL_GPIO_OUT", "").strip()
    in_pin = os.environ.get("EDGETWIN_HIL_GPIO_IN", "").strip()
    factory = os.environ.get("GPIOZERO_PIN_FACTORY", "").strip().lower()
    if not (out_pin and in_pin and factory):
        pytest.skip(
            "no real GPIO loop-back: wire an output pin to an input pin and set "
            "EDGETWIN_HIL_GPIO_OUT, EDGETWIN_HIL_GPIO_IN (BCM numbers) and "
            "GPIOZERO_PIN_FACTORY (lgpio, rpigpio or native)"
        )
    if factory == "mock":
        pytest.skip(
            "GPIOZERO_PIN_FACTORY=mock has no wires: name a hardware backend "
            "(lgpio, rpigpio or native) for the loop-back"
        )
    return factory, int(out_pin), int(in_pin)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give ``real_i2c_chip`` one value per chip in EDGETWIN_HIL_I2C_CHIPS."""
    if "real_i2c_chip" in metafunc.fixturenames:
        metafunc.parametrize("real_i2c_chip", real_i2c_params())
