"""Register decoding and encoding in every layout, notation and the RTU CRC."""

from __future__ import annotations

import struct

import pytest
from pymodbus.framer import FramerRTU

from drivers.modbus import codec
from drivers.modbus.addressing import parse_notation

FLOAT_123_456 = {
    "ABCD": [0x42F6, 0xE979],
    "CDAB": [0xE979, 0x42F6],
    "BADC": [0xF642, 0x79E9],
    "DCBA": [0x79E9, 0xF642],
}


def test_float32_123_456_is_42_f6_e9_79() -> None:
    assert struct.pack(">f", 123.456).hex(" ") == "42 f6 e9 79"


@pytest.mark.parametrize("layout", codec.LAYOUTS)
def test_float32_in_each_layout(layout: codec.Layout) -> None:
    regs = FLOAT_123_456[layout]
    assert codec.encode(123.456, "float32", layout) == regs
    assert (
        codec.decode(regs, "float32", layout)
        == struct.unpack(">f", bytes.fromhex("42f6e979"))[0]
    )


# int32 -123456789 is 0xF8A432EB.
INT32 = {
    "ABCD": [0xF8A4, 0x32EB],
    "CDAB": [0x32EB, 0xF8A4],
    "BADC": [0xA4F8, 0xEB32],
    "DCBA": [0xEB32, 0xA4F8],
}


@pytest.mark.parametrize("layout", codec.LAYOUTS)
def test_int32_in_each_layout(layout: codec.Layout) -> None:
    assert codec.encode(-123456789, "int32", layout) == INT32[layout]
    assert codec.decode(INT32[layout], "int32", layout) == -123456789


def test_uint32_and_16_bit_types() -> None:
    assert codec.decode([0xFFFF, 0xFFFE], "uint32") == 4294967294
    assert codec.decode([0xFFFF], "int16") == -1
    assert codec.decode([0xFFFF], "uint16") == 65535
    # 16-bit values ignore the layout.
    assert codec.decode([0x0102], "uint16", "DCBA") == 0x0102


# 0x0102030405060708 in the four 64-bit arrangements.
UINT64 = {
    "ABCD": [0x0102, 0x0304, 0x0506, 0x0708],
    "CDAB": [0x0708, 0x0506, 0x0304, 0x0102],
    "BADC": [0x0201, 0x0403, 0x0605, 0x0807],
    "DCBA": [0x0807, 0x0605, 0x0403, 0x0201],
}


@pytest.mark.parametrize("layout", codec.LAYOUTS)
def test_64_bit_layouts(layout: codec.Layout) -> None:
    assert codec.encode(0x0102030405060708, "uint64", layout) == UINT64[layout]
    assert codec.decode(UINT64[layout], "uint64", layout) == 0x0102030405060708
    regs = codec.encode(-2.5e-300, "float64", layout)
    assert codec.decode(regs, "float64", layout) == -2.5e-300
    assert codec.decode(codec.encode(-7, "int64", layout), "int64", layout) == -7


def test_string_and_bits() -> None:
    regs = codec.encode("EM-340", "string", length=4)
    assert regs == [0x454D, 0x2D33, 0x3430, 0x0000]
    assert codec.decode(regs, "string") == "EM-340"
    assert codec.decode([0b1000_0000_0000_0100], "bit", bit=2) == 1.0
    assert codec.decode([0b1000_0000_0000_0100], "bit", bit=3) == 0.0
    assert codec.decode([0b1000_0000_0000_0100], "bit", bit=15) == 1.0


def test_wrong_register_count_and_overflow_are_value_errors() -> None:
    with pytest.raises(ValueError, match="float32 needs 2 registers, got 1"):
        codec.decode([1], "float32")
    with pytest.raises(ValueError, match="does not fit uint16"):
        codec.encode(70000, "uint16")


def test_crc_of_the_specification_example() -> None:
    frame = bytes.fromhex("01 03 00 00 00 0A")
    assert codec.crc16(frame) == bytes.fromhex("C5 CD")
    # pymodbus agrees (it returns the two bytes as a big-endian int).
    assert FramerRTU.compute_CRC(frame).to_bytes(2, "big") == codec.crc16(frame)


@pytest.mark.parametrize(
    ("text", "table", "address"),
    [
        ("40001", "holding", 0),
        ("400001", "holding", 0),
        ("465536", "holding", 65535),
        ("40100", "holding", 99),
        ("30001", "input", 0),
        ("10005", "discrete", 4),
        ("00001", "coil", 0),
        ("000010", "coil", 9),
    ],
)
def test_notation(text: str, table: str, address: int) -> None:
    assert parse_notation(text) == (table, address)


@pytest.mark.parametrize("text", ["20001", "40000", "4001", "465537", "abc"])
def test_bad_notation(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text)):
        parse_notation(text)
