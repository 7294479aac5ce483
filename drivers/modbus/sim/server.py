"""Serve simulated units over loopback TCP or a pseudo-terminal, with faults on demand.

Requests are framed, decoded and answered by pymodbus (its framers, PDU
classes and request execution); the transport loop is ours, so that a fault
can act on a frame: drop it, corrupt its CRC, hold it back. Each server runs
its own asyncio loop in a background thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import tty
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ExceptionResponse

from drivers.modbus.sim.store import SimUnit

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 5.0


class _SimServer:
    """The loop thread and the request handling both transports share."""

    framer_class: Any = FramerSocket

    def __init__(self, units: Sequence[SimUnit]) -> None:
        self.units = {u.unit: u for u in units}
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, daemon=True, name=f"modbus-sim-{id(self):x}"
        )
        self._thread.start()
        self._closed = False

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(
            _START_TIMEOUT_S
        )

    def _new_framer(self) -> Any:
        return self.framer_class(DecodePDU(True))

    async def _answer(self, pdu: Any) -> bytes | None:
        """Return the reply frame to one decoded request, or None for silence."""
        unit = self.units.get(pdu.dev_id)
        if unit is None or unit.faults.gone:
            return None
        unit.requests += 1
        f = unit.faults
        if f.delay_s:
            await asyncio.sleep(f.delay_s)
        if f.no_reply:
            return None
        if f.exception:
            reply = ExceptionResponse(pdu.function_code, f.exception)
        else:
            reply = await pdu.datastore_update(unit, pdu.dev_id)
        reply.dev_id = pdu.dev_id
        reply.transaction_id = pdu.transaction_id
        frame = self._new_framer().buildFrame(reply)
        if f.bad_crc:
            frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
        return frame

    def close(self) -> None:
        """Stop serving and end the loop thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self._shutdown())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(_START_TIMEOUT_S)
            self.loop.close()

    async def _shutdown(self) -> None:
        """Release the transport; overridden by each server."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        t: type[BaseException] | None,
        e: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class TcpSimServer(_SimServer):
    """Simulated units behind one Modbus TCP server on ``127.0.0.1``.

    ``port=0`` picks a free port; ``port`` then tells which. ``stop()`` and
    ``start()`` emulate a device that reboots: the same port goes away,
    every connection drops, and it comes back.
    """

    def __init__(
        self, units: Sequence[SimUnit], port: int = 0, host: str = "127.0.0.1"
    ) -> None:
        super().__init__(units)
        self.host = host
        self.port = port
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        try:
            self.start()
        except BaseException:
            self.close()
            raise

    def start(self) -> None:
        """Listen on ``port`` (again)."""
        self._call(self._listen())

    def stop(self) -> None:
        """Stop listening and drop every connection, as a power cycle would."""
        self._call(self._shutdown())

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            w.close()
        self._writers.clear()
        # End the connection handlers here, so that none is left pending
        # when the loop closes.
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        framer = self._new_framer()
        buf = b""
        try:
            while data := await reader.read(512):
                buf += data
                while buf:
                    used, pdu = framer.handleFrame(buf, 0, 0)
                    if not used:
                        break
                    buf = buf[used:]
                    if pdu is not None and (reply := await self._answer(pdu)):
                        writer.write(reply)
                        await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()


class RtuSimServer(_SimServer):
    """Simulated units sharing one RTU line on a pseudo-terminal pair.

    The client opens ``port`` (the terminal side, e.g. ``/dev/pts/5``) as it
    would a USB RS-485 adapter; the units answer on the other side.
    """

    framer_class = FramerRTU

    def __init__(self, units: Sequence[SimUnit]) -> None:
        super().__init__(units)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._buf = b""
        self._framer = self._new_framer()
        os.set_blocking(self._master, False)
        self.loop.call_soon_threadsafe(
            self.loop.add_reader, self._master, self._on_data
        )

    def _on_data(self) -> None:
        try:
            self._buf += os.read(self._master, 512)
        except BlockingIOError:
            return
        except OSError:
            return
        while self._buf:
            used, pdu = self._framer.handleFrame(self._buf, 0, 0)
            if not used:
                break
            self._buf = self._buf[used:]
            if pdu is not None:
                self.loop.create_task(self._reply(pdu))

    async def _reply(self, pdu: Any) -> None:
        frame = await self._answer(pdu)
        if frame:
            os.write(self._master, frame)

    async def _shutdown(self) -> None:
        self.loop.remove_reader(self._master)
        os.close(self._master)
        os.close(self._slave)
