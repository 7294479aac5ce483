"""Connections that carry one Modbus transaction at a time: TCP sockets and RTU lines.

A link is shared by every device configured on the same host and port, or
the same serial line; its lock makes their transactions take turns. A
connection that cannot be made is retried with capped exponential backoff
on the agent's clock: until the next attempt is due, transactions fail at
once instead of waiting on a dead peer.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import serial  # pyserial, installed with pymodbus[serial]

from agent.clock import Clock
from agent.errors import DeviceError, DeviceTimeoutError
from drivers.modbus import frames

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: ``initial_s``, doubling up to ``max_s``."""

    initial_s: float = 0.5
    max_s: float = 30.0


class Link(Protocol):
    """What a Modbus device needs of its connection."""

    name: str
    lock: threading.Lock
    users: int

    def transact(self, unit: int, pdu: bytes, timeout_s: float) -> bytes: ...

    def close(self) -> None: ...


class _Reconnecting:
    """Connection state shared by both links: backoff and outage logging."""

    def __init__(self, name: str, clock: Clock, backoff: Backoff) -> None:
        self.name = name
        self.clock = clock
        self.backoff = backoff
        self.lock = threading.Lock()
        self.users = 0
        self._delay_s = 0.0
        self._retry_at = float("-inf")
        self._down_reason = ""
        self._failures = 0

    def _check_backoff(self) -> None:
        now = self.clock.now()
        if now < self._retry_at:
            raise DeviceError(
                f"{self.name}: reconnecting in {self._retry_at - now:.1f} s "
                f"after: {self._down_reason}"
            )

    def _failed(self, reason: str) -> None:
        self._delay_s = min(
            self.backoff.max_s, max(self.backoff.initial_s, 2 * self._delay_s)
        )
        self._retry_at = self.clock.now() + self._delay_s
        self._failures += 1
        if not self._down_reason:
            log.warning("%s: connection lost: %s", self.name, reason)
        self._down_reason = reason

    def _connected(self) -> None:
        if self._down_reason:
            log.warning(
                "%s: connected again after %d failed attempts",
                self.name,
                self._failures,
            )
        self._delay_s = 0.0
        self._retry_at = float("-inf")
        self._down_reason = ""
        self._failures = 0


def _read_exactly(fd: int, n: int, deadline: float, what: str) -> bytes:
    """Read ``n`` bytes from ``fd`` before the monotonic ``deadline``."""
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise DeviceTimeoutError(what)
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise DeviceError(f"{what}: connection closed by the peer")
        buf += chunk
    return buf


class TcpLink(_Reconnecting):
    """Modbus TCP to ``host``:``port``, connecting on first use."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        clock: Clock,
        backoff: Backoff = Backoff(),
        connect_timeout_s: float = 2.0,
    ) -> None:
        super().__init__(f"modbus tcp {host}:{port}", clock, backoff)
        self.host = host
        self.port = port
        self.connect_timeout_s = connect_timeout_s
        self._sock: socket.socket | None = None
        self._tid = 0

    def _connect(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        self._check_backoff()
        try:
            sock = socket.create_connection(
                (self.host, self.port), timeout=self.connect_timeout_s
            )
        except OSError as exc:
            reason = f"cannot connect: {exc.strerror or exc}"
            self._failed(reason)
            raise DeviceError(f"{self.name}: {reason}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._connected()
        return sock

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def transact(self, unit: int, pdu: bytes, timeout_s: float) -> bytes:
        """Send ``pdu`` to ``unit`` and return the reply PDU.

        Raises ``DeviceTimeoutError`` when no reply comes within ``timeout_s``
        and ``DeviceError`` when the connection fails or the reply is bad.
        """
        sock = self._connect()
        self._tid = (self._tid + 1) & 0xFFFF
        tid = self._tid
        deadline = time.monotonic() + timeout_s
        what = f"no reply from unit {unit} within {timeout_s:g} s"
        try:
            sock.sendall(frames.mbap(tid, unit, pdu))
            while True:
                head = _read_exactly(sock.fileno(), 7, deadline, what)
                rtid, proto, length, runit = struct.unpack(">HHHB", head)
                if proto != 0 or not 2 <= length <= 254:
                    raise frames.BadReplyError(f"bad MBAP header {head.hex(' ')}")
                body = _read_exactly(sock.fileno(), length - 1, deadline, what)
                if rtid == tid:
                    break
                # A late reply to an earlier, timed-out request: skip it.
        except DeviceTimeoutError:
            # The stream may still carry the late reply; start afresh.
            self._drop()
            raise
        except frames.BadReplyError:
            self._drop()
            raise
        except OSError as exc:
            self._drop()
            reason = f"connection lost: {getattr(exc, 'strerror', None) or exc}"
            self._failed(reason)
            raise DeviceError(f"{self.name}: {reason}") from None
        if runit != unit:
            raise frames.BadReplyError(
                f"reply from unit {runit} to a request for unit {unit}"
            )
        return body

    def close(self) -> None:
        """Close the socket; idempotent."""
        self._drop()


@dataclass(frozen=True)
class SerialSettings:
    """How an RS-485 line is driven: ``baud``, ``parity`` (N, E, O), stop bits."""

    baud: int = 9600
    parity: str = "N"
    stopbits: int = 1
    bytesize: int = 8

    @property
    def char_s(self) -> float:
        """Return the time one character takes on the wire (11 bits)."""
        return 11.0 / self.baud

    @property
    def gap_s(self) -> float:
        """Return the inter-frame silence: 3.5 characters, 1.75 ms above 19200 baud."""
        return 0.00175 if self.baud > 19200 else 3.5 * self.char_s


class RtuLink(_Reconnecting):
    """Modbus RTU on serial ``port``: one frame at a time, with the inter-frame gap."""

    def __init__(
        self,
        port: str,
        settings: SerialSettings = SerialSettings(),
        *,
        clock: Clock,
        backoff: Backoff = Backoff(),
    ) -> None:
        super().__init__(f"modbus rtu {port}", clock, backoff)
        self.port = port
        self.settings = settings
        self._serial: Any = None
        self._last_activity = 0.0

    def _open(self) -> Any:
        if self._serial is not None:
            return self._serial
        self._check_backoff()
        s = self.settings
        try:
            self._serial = serial.Serial(
                self.port,
                baudrate=s.baud,
                bytesize=s.bytesize,
                parity=s.parity,
                stopbits=s.stopbits,
                timeout=0,
            )
        except (OSError, ValueError, serial.SerialException) as exc:
            self._failed(f"cannot open: {exc}")
            raise DeviceError(f"{self.name}: cannot open: {exc}") from None
        self._connected()
        return self._serial

    def _wait_gap(self) -> None:
        # NOTE: the silence between frames is a property of the wire, measured
        # on the monotonic clock; it is milliseconds, not agent time.
        due = self._last_activity + self.settings.gap_s
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def transact(self, unit: int, pdu: bytes, timeout_s: float) -> bytes:
        """Send ``pdu`` to ``unit`` and return the reply PDU.

        Raises ``DeviceTimeoutError`` when no complete reply comes within
        ``timeout_s`` and ``DeviceError`` for a bad CRC, a mismatched unit or
        a line that cannot be opened. The caller holds ``lock``.
        """
        ser = self._open()
        fd = ser.fileno()
        what = f"no reply from unit {unit} within {timeout_s:g} s"
        try:
            self._wait_gap()
            ser.reset_input_buffer()  # drop a late reply to an earlier request
            os.write(fd, frames.rtu_frame(unit, pdu))
            deadline = time.monotonic() + timeout_s + self._frame_s(len(pdu) + 3)
            try:
                head = _read_exactly(fd, 3, deadline, what)
                total = frames.reply_length(head)
                if total is None:
                    raise frames.BadReplyError(f"reply with unknown function {head[1]}")
                frame = head + _read_exactly(fd, total - 3, deadline, what)
            finally:
                self._last_activity = time.monotonic()
        except OSError as exc:
            if isinstance(exc, DeviceError):
                raise
            self.close()
            self._failed(f"line error: {exc}")
            raise DeviceError(f"{self.name}: line error: {exc}") from None
        return frames.rtu_unwrap(unit, frame)

    def _frame_s(self, nbytes: int) -> float:
        return nbytes * self.settings.char_s

    def close(self) -> None:
        """Close the serial port; idempotent."""
        if self._serial is not None:
            self._serial.close()
            self._serial = None
