"""Turn Modbus registers into values and back: integer, float and string types.

Multi-register values follow one of four layouts, named after where the
bytes of the big-endian value ``A B C D`` end up: ``ABCD`` (big endian, the
Modbus default), ``CDAB`` (registers swapped), ``BADC`` (bytes swapped in
each register) and ``DCBA`` (both). 64-bit values use the same names for the
same two swaps over four registers. 16-bit types ignore the layout.
"""

from __future__ import annotations

import struct
from typing import Literal

Layout = Literal["ABCD", "CDAB", "BADC", "DCBA"]
LAYOUTS: tuple[Layout, ...] = ("ABCD", "CDAB", "BADC", "DCBA")

# Register count and struct format of each numeric type.
NUMERIC: dict[str, tuple[int, str]] = {
    "int16": (1, ">h"),
    "uint16": (1, ">H"),
    "int32": (2, ">i"),
    "uint32": (2, ">I"),
    "float32": (2, ">f"),
    "int64": (4, ">q"),
    "uint64": (4, ">Q"),
    "float64": (4, ">d"),
}
TYPES: tuple[str, ...] = (*NUMERIC, "string", "bit")


def register_count(dtype: str, length: int = 1) -> int:
    """Return how many registers a value of ``dtype`` takes (``length`` for strings)."""
    if dtype == "string":
        return length
    if dtype == "bit":
        return 1
    return NUMERIC[dtype][0]


def _arrange(words: list[int], layout: Layout) -> list[int]:
    # Both swaps are their own inverse, so one function serves both ways.
    if layout in ("BADC", "DCBA"):
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    if layout in ("CDAB", "DCBA"):
        words = words[::-1]
    return words


def to_bytes(registers: list[int]) -> bytes:
    """Return the registers as big-endian bytes, as they travel on the wire."""
    return struct.pack(f">{len(registers)}H", *registers)


def decode(
    registers: list[int], dtype: str, layout: Layout = "ABCD", bit: int | None = None
) -> float | str:
    """Decode ``registers`` (16-bit unsigned ints) as ``dtype``.

    ``bit`` picks one bit (0 = least significant) of a 16-bit register for
    the ``bit`` type. Raises ``ValueError`` when the register count is wrong.
    """
    if dtype == "string":
        return to_bytes(registers).rstrip(b"\x00 ").decode("latin-1")
    if dtype == "bit":
        if len(registers) != 1:
            raise ValueError(f"a bit needs 1 register, got {len(registers)}")
        return float((registers[0] >> (bit or 0)) & 1)
    count, fmt = NUMERIC[dtype]
    if len(registers) != count:
        raise ValueError(f"{dtype} needs {count} registers, got {len(registers)}")
    words = _arrange(list(registers), layout) if count > 1 else list(registers)
    # Integers stay ints, so that 64-bit values keep every digit.
    value: float = struct.unpack(fmt, to_bytes(words))[0]
    return value


def encode(
    value: float | str, dtype: str, layout: Layout = "ABCD", length: int = 1
) -> list[int]:
    """Encode ``value`` as registers of ``dtype`` in ``layout``.

    Integer types round to the nearest integer. Raises ``ValueError`` when
    the value does not fit the type (``struct.error`` is turned into it).
    """
    if dtype == "string":
        raw = str(value).encode("latin-1")[: 2 * length].ljust(2 * length, b"\x00")
        return list(struct.unpack(f">{length}H", raw))
    if dtype == "bit":
        return [1 if float(value) else 0]
    count, fmt = NUMERIC[dtype]
    number: float | int
    if fmt[-1] in "fd":
        number = float(value)
    else:
        # Python ints keep all 64 bits; floats are rounded to the nearest integer.
        number = value if isinstance(value, int) else round(float(value))
    try:
        raw = struct.pack(fmt, number)
    except struct.error as exc:
        raise ValueError(f"{value!r} does not fit {dtype}: {exc}") from None
    words = list(struct.unpack(f">{count}H", raw))
    return _arrange(words, layout) if count > 1 else words


_CRC_TABLE: list[int] = []
for _byte in range(256):
    _crc = _byte
    for _ in range(8):
        _crc = (_crc >> 1) ^ 0xA001 if _crc & 1 else _crc >> 1
    _CRC_TABLE.append(_crc)


def crc16(data: bytes) -> bytes:
    """Return the Modbus RTU CRC-16 of ``data`` as sent: low byte first."""
    crc = 0xFFFF
    for b in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ b) & 0xFF]
    return struct.pack("<H", crc)
