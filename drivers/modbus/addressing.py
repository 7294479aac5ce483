"""Where a value lives on a Modbus device: table, unit, address, type and layout."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from drivers.modbus.codec import Layout, register_count

Table = Literal["coil", "discrete", "input", "holding"]
TABLES: tuple[Table, ...] = ("coil", "discrete", "input", "holding")
BIT_TABLES: tuple[Table, ...] = ("coil", "discrete")

# Function code that reads each table.
READ_FUNCTION: dict[str, int] = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}
# The most one read request may ask for, per the Modbus specification.
MAX_READ: dict[str, int] = {
    "coil": 2000,
    "discrete": 2000,
    "holding": 125,
    "input": 125,
}

_PREFIX: dict[str, Table] = {"0": "coil", "1": "discrete", "3": "input", "4": "holding"}
_NOTATION = re.compile(r"^([0134])(\d{4,5})$")


def parse_notation(text: str) -> tuple[Table, int]:
    """Convert ``"40001"`` style notation into a table and a 0-based address.

    Five digits (``40001`` to ``49999``) and six digits (``400001`` to
    ``465536``) are accepted. Raises ``ValueError`` with what is allowed.
    """
    m = _NOTATION.match(text.strip())
    if not m:
        raise ValueError(
            f"{text!r} is not Modbus notation (allowed: 00001-09999, 10001-19999, "
            "30001-39999, 40001-49999 or the 6-digit forms such as 400001)"
        )
    table = _PREFIX[m.group(1)]
    number = int(m.group(2))
    limit = 65536 if len(m.group(2)) == 5 else 9999
    if not 1 <= number <= limit:
        raise ValueError(f"{text!r} is out of range (register number 1 to {limit})")
    return table, number - 1


@dataclass(frozen=True)
class RegisterAddress:
    """A point's or actuator's typed address on a Modbus device.

    ``address`` is the 0-based protocol address in ``table``; ``length`` is
    the register count of a string; ``bit`` picks one bit of a register.
    """

    table: Table
    address: int
    dtype: str = "uint16"
    layout: Layout = "ABCD"
    unit: int = 1
    length: int = 1
    bit: int | None = None

    @property
    def count(self) -> int:
        """Return how many registers (or bits, for coil and discrete) it spans."""
        if self.table in BIT_TABLES:
            return 1
        return register_count(self.dtype, self.length)

    @property
    def end(self) -> int:
        """Return the address one past the last register it spans."""
        return self.address + self.count

    def describe(self) -> str:
        """Return a short human description, such as ``holding 100-101``."""
        last = self.end - 1
        span = f"{self.address}" if last == self.address else f"{self.address}-{last}"
        return f"{self.table} {span}"
