"""A simulated unit's four tables, which tests and the demo feed with values."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from pymodbus.constants import ExcCodes

from drivers.modbus import codec
from drivers.modbus.codec import Layout

# Which table each function code reads or writes.
_TABLE_OF = {
    1: "coil",
    5: "coil",
    15: "coil",
    2: "discrete",
    3: "holding",
    6: "holding",
    16: "holding",
    23: "holding",
    4: "input",
}


@dataclass
class Faults:
    """Faults a unit shows, changed at any time.

    ``no_reply`` drops replies, ``bad_crc`` corrupts them (RTU), ``exception``
    answers every request with that exception code, ``delay_s`` holds each
    reply back, ``gone`` makes the unit vanish from its line.
    """

    no_reply: bool = False
    bad_crc: bool = False
    exception: int = 0
    delay_s: float = 0.0
    gone: bool = False

    def clear(self) -> None:
        self.no_reply = self.bad_crc = self.gone = False
        self.exception = 0
        self.delay_s = 0.0


class SimUnit:
    """The registers and bits of one simulated unit; addresses not defined are illegal.

    Values are set with ``set`` (typed) or ``set_registers`` (raw) from any
    thread; the server reads them on its own loop.
    """

    def __init__(self, unit: int = 1) -> None:
        self.unit = unit
        self.faults = Faults()
        self.requests = 0
        self._lock = threading.Lock()
        self._tables: dict[str, dict[int, int]] = {
            "coil": {},
            "discrete": {},
            "input": {},
            "holding": {},
        }

    def set_registers(self, table: str, address: int, registers: Sequence[int]) -> None:
        """Define ``table`` entries from ``address`` on with raw values (or bits)."""
        with self._lock:
            for i, r in enumerate(registers):
                self._tables[table][address + i] = int(r) & 0xFFFF

    def set(
        self,
        table: str,
        address: int,
        value: float | str,
        dtype: str = "uint16",
        *,
        layout: Layout = "ABCD",
        length: int = 1,
    ) -> None:
        """Store ``value`` encoded as ``dtype`` in ``layout`` at ``address``."""
        self.set_registers(table, address, codec.encode(value, dtype, layout, length))

    def get_registers(self, table: str, address: int, count: int) -> list[int]:
        """Return ``count`` raw values from ``address``; KeyError where undefined."""
        with self._lock:
            return [self._tables[table][address + i] for i in range(count)]

    def get(
        self, table: str, address: int, dtype: str = "uint16", layout: Layout = "ABCD"
    ) -> float | str:
        """Return the value at ``address`` decoded as ``dtype``."""
        regs = self.get_registers(table, address, codec.register_count(dtype))
        return codec.decode(regs, dtype, layout)

    # The two methods below are the datastore interface pymodbus requests call.

    async def async_getValues(  # noqa: N802  # name fixed by pymodbus
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        table = _TABLE_OF.get(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        try:
            values = self.get_registers(table, address, count)
        except KeyError:
            return ExcCodes.ILLEGAL_ADDRESS
        if table in ("coil", "discrete"):
            return [bool(v) for v in values]
        return values

    async def async_setValues(  # noqa: N802  # name fixed by pymodbus
        self,
        device_id: int,
        func_code: int,
        address: int,
        values: Sequence[int] | Sequence[bool],
    ) -> ExcCodes | None:
        table = _TABLE_OF.get(func_code)
        if table not in ("coil", "holding"):
            return ExcCodes.ILLEGAL_FUNCTION
        with self._lock:
            if any(address + i not in self._tables[table] for i in range(len(values))):
                return ExcCodes.ILLEGAL_ADDRESS
            for i, v in enumerate(values):
                self._tables[table][address + i] = int(v) & 0xFFFF
        return None

    def device_ids(self) -> list[int]:
        return [self.unit]
