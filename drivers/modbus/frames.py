"""Modbus PDUs and their RTU and TCP envelopes, built and checked byte by byte."""

from __future__ import annotations

import struct

from agent.errors import DeviceError
from drivers.modbus.codec import crc16

EXCEPTION_NAMES: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class ExceptionReplyError(DeviceError):
    """The device answered with a Modbus exception ``code``."""

    def __init__(self, function: int, code: int) -> None:
        self.function = function
        self.code = code
        name = EXCEPTION_NAMES.get(code, "unknown exception")
        super().__init__(f"exception {code} ({name})")


class BadReplyError(DeviceError):
    """A reply arrived but is malformed or does not match the request."""


def read_request(function: int, start: int, count: int) -> bytes:
    """Return the PDU that reads ``count`` items from ``start`` (functions 1 to 4)."""
    return struct.pack(">BHH", function, start, count)


def write_coil_request(address: int, on: bool) -> bytes:
    """Return the PDU of function 5 (write single coil)."""
    return struct.pack(">BHH", 5, address, 0xFF00 if on else 0)


def write_register_request(address: int, value: int) -> bytes:
    """Return the PDU of function 6 (write single register)."""
    return struct.pack(">BHH", 6, address, value)


def write_registers_request(address: int, values: list[int]) -> bytes:
    """Return the PDU of function 16 (write multiple registers)."""
    n = len(values)
    return struct.pack(f">BHHB{n}H", 16, address, n, 2 * n, *values)


def parse_reply(request: bytes, reply: bytes) -> list[int]:
    """Check ``reply`` against ``request`` and return the values it carries.

    Reads return registers (functions 3 and 4) or bits as 0/1 (1 and 2);
    writes return the echoed value(s). Raises ``ExceptionReplyError`` or
    ``BadReplyError``.
    """
    function = request[0]
    if not reply:
        raise BadReplyError("empty reply")
    if reply[0] == function | 0x80:
        if len(reply) != 2:
            raise BadReplyError(f"exception reply of {len(reply)} bytes (expected 2)")
        raise ExceptionReplyError(function, reply[1])
    if reply[0] != function:
        raise BadReplyError(
            f"reply has function {reply[0]} to a request of function {function}"
        )

    if function in (1, 2, 3, 4):
        _, _, count = struct.unpack(">BHH", request[:5])
        size = (count + 7) // 8 if function in (1, 2) else 2 * count
        if len(reply) < 2 or reply[1] != size or len(reply) != 2 + size:
            raise BadReplyError(
                f"reply carries {len(reply) - 2} data bytes, byte count "
                f"{reply[1] if len(reply) > 1 else '?'} (expected {size})"
            )
        data = reply[2:]
        if function in (3, 4):
            return list(struct.unpack(f">{count}H", data))
        return [(data[i // 8] >> (i % 8)) & 1 for i in range(count)]

    # Writes echo the address and value or quantity.
    if reply[:5] != request[:5] or len(reply) != 5:
        raise BadReplyError(
            f"write reply {reply.hex(' ')} does not echo {request[:5].hex(' ')}"
        )
    return [struct.unpack(">H", reply[3:5])[0]]


def reply_length(head: bytes) -> int | None:
    """Return the full RTU reply length from its first three bytes, if known."""
    function = head[1]
    if function & 0x80:
        return 5
    if function in (1, 2, 3, 4):
        return 5 + head[2]
    if function in (5, 6, 15, 16):
        return 8
    return None


def rtu_frame(unit: int, pdu: bytes) -> bytes:
    """Return the RTU frame: unit, PDU and CRC."""
    body = bytes([unit]) + pdu
    return body + crc16(body)


def rtu_unwrap(unit: int, frame: bytes) -> bytes:
    """Check an RTU reply frame (CRC, unit) and return its PDU."""
    body, crc = frame[:-2], frame[-2:]
    if crc16(body) != crc:
        raise BadReplyError(f"bad CRC {crc.hex(' ')} (expected {crc16(body).hex(' ')})")
    if body[0] != unit:
        raise BadReplyError(f"reply from unit {body[0]} to a request for unit {unit}")
    return body[1:]


def mbap(tid: int, unit: int, pdu: bytes) -> bytes:
    """Return the TCP frame: MBAP header (tid, protocol 0, length, unit), PDU."""
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu
