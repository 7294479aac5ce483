"""The ``modbus-tcp`` and ``modbus-rtu`` device kinds: their configuration keys.

A device names its connection and defaults; points name a register::

    [[devices]]
    name = "meter"
    kind = "modbus-tcp"
    host = "192.168.1.20"      # port = 502, unit = 1, layout = "ABCD"
    max_gap = 10               # registers skipped to join two reads into one

    [[devices]]
    name = "demo_meter"
    kind = "modbus-tcp"
    simulate = "energy_meter"  # no host: the agent serves a simulated meter,
                               # fed by the simulated plant, on loopback

    [[devices]]
    name = "drive"
    kind = "modbus-rtu"
    port = "/dev/ttyUSB0"      # baud = 9600, parity = "N", stopbits = 1
    unit = 3

    [[points]]
    name = "flow_l_min"
    device = "drive"
    address = "30013"          # or table = "input" with address = 12
    type = "float32"           # layout = "CDAB" overrides the device's

    [[points]]
    name = "voltage_v"
    device = "meter"
    profile = "energy_meter"
    quantity = "voltage_v"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from agent.config.checker import Table as ConfigTable
from agent.config.schema import DeviceConfig
from drivers.base import DriverContext
from drivers.modbus import profiles
from drivers.modbus.addressing import (
    BIT_TABLES,
    TABLES,
    RegisterAddress,
    parse_notation,
)
from drivers.modbus.codec import LAYOUTS, NUMERIC, TYPES, Layout
from drivers.modbus.device import ModbusDevice, open_device
from drivers.modbus.link import Backoff, SerialSettings

# Devices the agent can serve itself on loopback (``simulate = ...``); see
# drivers.modbus.sim.meter.
SIMULATIONS = ("energy_meter",)


@dataclass(frozen=True)
class ModbusOptions:
    """Settings of a Modbus device; ``target`` is ``host:port`` or a serial port."""

    transport: Literal["tcp", "rtu"]
    target: str
    host: str = ""
    port: int = 502
    serial: SerialSettings = field(default_factory=SerialSettings)
    unit: int = 1
    layout: Layout = "ABCD"
    max_gap: int = 10
    backoff: Backoff = field(default_factory=Backoff)
    simulate: str = ""


def _common(t: ConfigTable) -> dict[str, Any]:
    layout = t.str("layout", "ABCD", choices=LAYOUTS)
    return {
        "unit": t.int("unit", 1, min=0, max=247),
        "layout": layout,
        "max_gap": t.int("max_gap", 10, min=0, max=124),
        "backoff": Backoff(
            initial_s=t.number("backoff_initial_s", 0.5, min=0.01, max=60, unit="s"),
            max_s=t.number("backoff_max_s", 30.0, min=0.01, max=3600, unit="s"),
        ),
    }


def parse_address(
    t: ConfigTable, default_layout: Layout, unit: int, *, writable: bool = False
) -> RegisterAddress | None:
    """Read a register address from a point or actuator table.

    Accepts ``profile`` + ``quantity`` or ``address`` (a 0-based integer
    with ``table``, or a notation string such as ``"40001"``) with ``type``,
    ``layout``, ``bit`` and ``length``.
    """
    if t.has("profile") or t.has("quantity"):
        return _from_profile(t, unit)
    located = _locate(t)
    if located is None:
        return None
    table, address = located

    default_type = "bit" if table in BIT_TABLES else "uint16"
    dtype = t.str("type", default_type, choices=TYPES)
    layout = t.str("layout", default_layout, choices=LAYOUTS)
    length = t.int("length", 1, min=1, max=123)
    bit = t.int("bit", 0, min=0, max=15) if t.has("bit") else None
    if table in BIT_TABLES and dtype != "bit":
        t.error("type", f"{dtype!r} is not allowed in the {table} table (only bit)")
    if table not in BIT_TABLES and dtype == "bit" and bit is None:
        t.error("bit", "is required for type 'bit' in a register (0 to 15)")
    if bit is not None and dtype != "bit":
        t.error("bit", f"only applies to type 'bit', not {dtype!r}")
    if writable and table in ("input", "discrete"):
        t.error("address", f"the {table} table is read-only (use coil or holding)")
    if writable and dtype in ("string", "bit") and table == "holding":
        t.error("type", f"{dtype!r} cannot be written (use a numeric type)")
    if address + (length if dtype == "string" else NUMERIC.get(dtype, (1,))[0]) > 65536:
        t.error("address", f"{address} plus the value's registers passes 65535")
    return RegisterAddress(
        table=table,  # type: ignore[arg-type]  # checked against TABLES above
        address=address,
        dtype=dtype,
        layout=layout,  # type: ignore[arg-type]  # checked against LAYOUTS above
        unit=unit,
        length=length,
        bit=bit,
    )


def _locate(t: ConfigTable) -> tuple[str, int] | None:
    """Read ``address`` (and ``table``) into a table and a 0-based address."""
    raw = t.raw("address")
    table = t.str("table", "", choices=TABLES) if t.has("table") else ""
    if raw is None:
        t.error("address", "is required (or give profile and quantity)")
        return None
    if isinstance(raw, str):
        try:
            noted, address = parse_notation(raw)
        except ValueError as exc:
            t.error("address", str(exc))
            return None
        if table and table != noted:
            t.error("table", f"{table!r} contradicts address {raw!r} ({noted} table)")
            return None
        table = noted
    elif isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= 65535:
        address = raw
        if not table:
            t.error(
                "table",
                "is required with a numeric address (coil, discrete, input, holding)",
            )
            return None
    else:
        t.error(
            "address",
            f"{raw!r} is not allowed (0 to 65535, or notation such as '40001')",
        )
        return None
    return table, address


def _from_profile(t: ConfigTable, unit: int) -> RegisterAddress | None:
    name = t.str("profile", required=True)
    quantity = t.str("quantity", required=True)
    if not name or not quantity:
        return None
    try:
        quantities = profiles.load(name)
    except KeyError:
        allowed = ", ".join(profiles.available())
        t.error("profile", f"{name!r} is not a known profile (known: {allowed})")
        return None
    q = quantities.get(quantity)
    if q is None:
        t.error(
            "quantity",
            f"{quantity!r} is not in profile {name!r} (known: {', '.join(quantities)})",
        )
        return None
    return RegisterAddress(
        table=q.table,  # type: ignore[arg-type]  # profiles are checked on load
        address=q.address,
        dtype=q.dtype,
        layout=q.layout,  # type: ignore[arg-type]
        unit=unit,
        length=q.length,
    )


class _ModbusKind:
    min_period_s = 0.05

    def parse_point(
        self, t: ConfigTable, device: DeviceConfig
    ) -> RegisterAddress | None:
        opts: ModbusOptions = device.options
        return parse_address(t, opts.layout, opts.unit)

    def parse_actuator(
        self, t: ConfigTable, device: DeviceConfig
    ) -> RegisterAddress | None:
        opts: ModbusOptions = device.options
        return parse_address(t, opts.layout, opts.unit, writable=True)

    def open(self, device: DeviceConfig, ctx: DriverContext) -> ModbusDevice:
        if device.options.simulate:
            # NOTE: the simulator needs pymodbus (about 10 MB resident); a
            # board reading real devices never imports it (PLC0415).
            from drivers.modbus.sim.meter import open_simulated  # noqa: PLC0415

            return open_simulated(device, ctx)
        return open_device(device, ctx)


class TcpKind(_ModbusKind):
    """The ``modbus-tcp`` device kind."""

    name = "modbus-tcp"

    def parse_device(self, t: ConfigTable) -> ModbusOptions:
        if t.has("simulate"):
            simulate = t.str("simulate", required=True, choices=SIMULATIONS)
            if t.has("host") or t.has("port"):
                t.str("host")
                t.int("port", 502)
                t.error(
                    "host",
                    f"a simulated {simulate!r} is served on loopback by the agent "
                    "(give either simulate or host and port)",
                )
            return ModbusOptions(
                transport="tcp", target="", simulate=simulate, **_common(t)
            )
        host = t.str("host", required=True)
        if t.has("host") and not host.strip():
            t.error("host", "is empty (give the device's address, e.g. 192.168.1.20)")
        port = t.int("port", 502, min=1, max=65535)
        return ModbusOptions(
            transport="tcp", target=f"{host}:{port}", host=host, port=port, **_common(t)
        )


class RtuKind(_ModbusKind):
    """The ``modbus-rtu`` device kind."""

    name = "modbus-rtu"

    def parse_device(self, t: ConfigTable) -> ModbusOptions:
        port = t.str("port", required=True)
        serial = SerialSettings(
            baud=t.int("baud", 9600, min=300, max=4_000_000),
            parity=t.str("parity", "N", choices=("N", "E", "O")),
            stopbits=t.int("stopbits", 1, min=1, max=2),
        )
        return ModbusOptions(transport="rtu", target=port, serial=serial, **_common(t))


TCP_KIND = TcpKind()
RTU_KIND = RtuKind()
