"""An open Modbus device: coalesced reads into samples, writes with read-back."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.config.schema import ActuatorConfig, DeviceConfig, PointConfig
from agent.errors import DeviceError, DeviceTimeoutError
from agent.reading import Quality, Sample
from drivers.base import DriverContext
from drivers.modbus import codec, frames
from drivers.modbus.addressing import BIT_TABLES, RegisterAddress
from drivers.modbus.link import Link, RtuLink, TcpLink
from drivers.modbus.plan import Block, plan

if TYPE_CHECKING:
    from drivers.modbus.kind import ModbusOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawValue:
    """A point's raw registers (or bits) beside the value decoded from them."""

    sample: Sample
    registers: tuple[int, ...]
    text: str = ""

    def hex(self) -> str:
        """Return the registers as hex words, such as ``42F6 E979``."""
        return " ".join(f"{r:04X}" for r in self.registers)


def open_device(device: DeviceConfig, ctx: DriverContext) -> ModbusDevice:
    """Open ``device``, sharing its link with the other devices on the same line."""
    opts: ModbusOptions = device.options
    if opts.transport == "tcp":
        key = f"modbus-tcp:{opts.host}:{opts.port}"
        link: Link = ctx.get_shared(
            key,
            lambda: TcpLink(
                opts.host, opts.port, clock=ctx.clock, backoff=opts.backoff
            ),
        )
    else:
        key = f"modbus-rtu:{opts.target}"
        link = ctx.get_shared(
            key,
            lambda: RtuLink(
                opts.target, opts.serial, clock=ctx.clock, backoff=opts.backoff
            ),
        )
        if isinstance(link, RtuLink) and link.settings != opts.serial:
            log.warning(
                "device %r: %s is already open with %s; its own settings are ignored",
                device.name,
                opts.target,
                link.settings,
            )
    return ModbusDevice(device, link, ctx, key)


class ModbusDevice:
    """One unit on a Modbus link, read through a register map.

    ``timeout_s`` bounds one whole read: each of the ``retries + 1`` attempts
    of a request gets an equal share of it, and once a request goes
    unanswered the read's other requests are skipped, so that a dead unit
    costs its line no more than its own timeout per read.
    """

    def __init__(
        self, config: DeviceConfig, link: Link, ctx: DriverContext, key: str
    ) -> None:
        self.name = config.name
        # Called after the link is released, e.g. to stop a simulated peer.
        self.closers: list[Callable[[], None]] = []
        self.config = config
        self.options: ModbusOptions = config.options
        self.link = link
        self._ctx = ctx
        self._key = key
        self._plans: dict[tuple[str, ...], list[Block]] = {}
        self._closed = False
        self.requests = 0
        with ctx.lock:
            link.users += 1

    @property
    def attempt_timeout_s(self) -> float:
        """Return how long one attempt waits for its reply."""
        return self.config.timeout_s / (self.config.retries + 1)

    # -- transactions ---------------------------------------------------------

    def _transact(self, unit: int, pdu: bytes) -> list[int]:
        """Run one request with retries; return what the reply carries."""
        attempts = self.config.retries + 1
        for attempt in range(attempts):
            try:
                with self.link.lock:
                    self.requests += 1
                    reply = self.link.transact(unit, pdu, self.attempt_timeout_s)
                return frames.parse_reply(pdu, reply)
            except frames.ExceptionReplyError:
                raise
            except (DeviceTimeoutError, frames.BadReplyError):
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _read_block(self, block: Block) -> list[int]:
        pdu = frames.read_request(block.function, block.start, block.count)
        return self._transact(block.unit, pdu)

    # -- reading --------------------------------------------------------------

    def read(self, points: Sequence[PointConfig]) -> list[Sample]:
        """Read ``points`` in as few requests as possible; never raise for a fault."""
        return [r.sample for r in self._read_raw(points)]

    def read_raw(self, point: PointConfig) -> RawValue:
        """Read one point and return its raw registers beside the decoded value."""
        return self._read_raw([point])[0]

    def _plan(self, points: Sequence[PointConfig]) -> list[Block]:
        key = tuple(p.name for p in points)
        found = self._plans.get(key)
        if found is None:
            addrs = [p.address for p in points]
            found = self._plans[key] = plan(addrs, self.options.max_gap)
        return found

    def _read_raw(self, points: Sequence[PointConfig]) -> list[RawValue]:
        out: list[RawValue | None] = [None] * len(points)
        silent = ""
        for block in self._plan(points):
            if silent:
                bad = Sample.bad(Quality.TIMEOUT, f"skipped: {silent}")
                for i in block.members:
                    out[i] = RawValue(bad, ())
                continue
            where = f"reading {block.describe()} of unit {block.unit}"
            try:
                values = self._read_block(block)
            except DeviceTimeoutError as exc:
                silent = f"{exc} {where}"
                fault = Sample.bad(Quality.TIMEOUT, silent)
            except DeviceError as exc:
                fault = Sample.bad(Quality.DEVICE_ERROR, f"{exc} {where}")
            else:
                for i in block.members:
                    out[i] = self._decode(points[i].address, block, values)
                continue
            for i in block.members:
                out[i] = RawValue(fault, ())
        return [
            r
            if r is not None
            else RawValue(Sample.bad(Quality.DEVICE_ERROR, "not read"), ())
            for r in out
        ]

    @staticmethod
    def _decode(a: RegisterAddress, block: Block, values: list[int]) -> RawValue:
        offset = a.address - block.start
        regs = values[offset : offset + a.count]
        if a.table in BIT_TABLES:
            return RawValue(Sample(float(regs[0])), tuple(regs))
        try:
            value = codec.decode(regs, a.dtype, a.layout, a.bit)
        except ValueError as exc:
            return RawValue(Sample.bad(Quality.DECODE_ERROR, str(exc)), tuple(regs))
        if isinstance(value, str):
            reason = f"string {value!r} is not a number"
            return RawValue(
                Sample.bad(Quality.DECODE_ERROR, reason), tuple(regs), value
            )
        return RawValue(Sample(value), tuple(regs))

    # -- writing --------------------------------------------------------------

    def write(self, actuator: ActuatorConfig, value: float) -> float:
        """Write ``value`` to the actuator's coil or register(s); return the read-back.

        Raises ``DeviceError`` (or ``DeviceTimeoutError``) naming the actuator
        when the write or the read-back fails.
        """
        a: RegisterAddress = actuator.address
        try:
            if a.table == "coil":
                pdu = frames.write_coil_request(a.address, value >= 0.5)
            else:
                regs = codec.encode(value, a.dtype, a.layout)
                if len(regs) == 1:
                    pdu = frames.write_register_request(a.address, regs[0])
                else:
                    pdu = frames.write_registers_request(a.address, regs)
            self._transact(a.unit, pdu)
            block = Block(a.unit, a.table, a.address, a.count, (0,))
            back = self._decode(a, block, self._read_block(block))
        except (DeviceError, ValueError) as exc:
            raise DeviceError(
                f"actuator {actuator.name!r}: writing {value:g} to {a.describe()} "
                f"of unit {a.unit} failed: {exc}"
            ) from None
        if back.sample.value is None:
            raise DeviceError(
                f"actuator {actuator.name!r}: read-back failed: {back.sample.reason}"
            )
        return back.sample.value

    def close(self) -> None:
        """Release the link; its last user closes it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with self._ctx.lock:
            self.link.users -= 1
            last = self.link.users <= 0
            if last:
                self._ctx.shared.pop(self._key, None)
        if last:
            with self.link.lock:
                self.link.close()
        for close in self.closers:
            close()
