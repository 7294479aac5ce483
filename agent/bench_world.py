"""The world outside the agent for the full benchmark, in a process of its own.

It serves the reference register map (25 uint16 holding registers, 25
float32 input registers) from a Modbus TCP simulator on loopback and, once
told the broker's port, subscribes to everything the agent publishes and
notes when each message arrives. Running apart keeps its CPU time out of
the agent's figures.

The plant behind the registers advances one ``period_s`` per read of the
holding block (one per agent cycle), so its values move the same way at
any clock speed: slow sines per register, and ``f0`` a first-order
response to ``u0`` and ``f1`` that the linear twin can learn.

Run as ``python -m agent.bench_world PERIOD_S``; the parent talks to it
with JSON lists, one a line, on its standard input and output:
``["period", s]``, ``["broker", port]``, ``["reset"]``, ``["report"]`` and
``["stop"]``; the first line it writes is ``["ready", modbus_port]``.
"""

from __future__ import annotations

import json
import math
import random
import sys
import threading
import time
from typing import Any

from pymodbus.constants import ExcCodes

from agent.bench_full import FLOAT32_POINTS, UINT16_POINTS
from drivers.modbus import codec
from drivers.modbus.sim import SimUnit, TcpSimServer

PLANT_START_S = 1_767_225_600.0


class PlantUnit(SimUnit):
    """The reference map, refreshed from a small plant at each read."""

    def __init__(self, period_s: float, unit: int = 1) -> None:
        super().__init__(unit)
        self.period_s = period_s
        self.plant_t = PLANT_START_S
        self.f0 = 20.0
        self._rng = random.Random(0)
        self.set_registers("holding", 0, [0] * UINT16_POINTS)
        self.set_registers("input", 0, [0] * (2 * FLOAT32_POINTS))
        self._refresh()

    def _refresh(self) -> None:
        t = self.plant_t
        u = [
            1000 + 10 * i + 200 * math.sin(2 * math.pi * t / 600 + 0.3 * i)
            for i in range(UINT16_POINTS)
        ]
        f = [
            20
            + 0.5 * i
            + 5 * math.sin(2 * math.pi * t / 900 + 0.2 * i)
            + 0.05 * self._rng.gauss(0, 1)
            for i in range(FLOAT32_POINTS)
        ]
        self.f0 = 0.9 * self.f0 + 0.1 * (0.01 * u[0] + 0.5 * f[1])
        f[0] = self.f0
        self.set_registers("holding", 0, [round(v) for v in u])
        words: list[int] = []
        for v in f:
            words += codec.encode(v, "float32", "ABCD", 1)
        self.set_registers("input", 0, words)

    async def async_getValues(  # noqa: N802  # name fixed by pymodbus
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        if func_code == 3:
            self.plant_t += self.period_s
            self._refresh()
        return await super().async_getValues(device_id, func_code, address, count)


class Receiver:
    """Subscribes to the agent's topics and notes each message's arrival."""

    def __init__(self, port: int) -> None:
        # NOTE: imported here (PLC0415): the simulator alone needs no MQTT client.
        import paho.mqtt.client as mqtt  # noqa: PLC0415
        from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

        self.lock = threading.Lock()
        self.arrivals: list[tuple[str, float, bool, float]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="edgetwin-bench-receiver"
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_connect(self, client: Any, *_a: object) -> None:
        client.subscribe("edgetwin/v1/#", qos=1)

    def _on_message(self, _c: object, _u: object, msg: Any) -> None:
        arrived = time.time()
        try:
            body = json.loads(msg.payload)
            ts = float(body["ts"])
            historical = bool(body.get("historical", False))
        except (ValueError, KeyError, TypeError):
            return
        leaf = msg.topic.rsplit("/", 1)[-1]
        with self.lock:
            self.arrivals.append((leaf, ts, historical, arrived))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _send(*msg: Any) -> None:
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def serve(period_s: float) -> None:
    """Run the world until told to stop or until standard input closes."""
    unit = PlantUnit(period_s)
    server = TcpSimServer([unit])
    receiver: Receiver | None = None
    _send("ready", server.port)
    try:
        for line in sys.stdin:
            msg = json.loads(line)
            if msg[0] == "period":
                unit.period_s = float(msg[1])
                _send("ok")
            elif msg[0] == "broker":
                receiver = Receiver(int(msg[1]))
                ok = receiver.subscribed.wait(10.0)
                _send("ok") if ok else _send("error", "no SUBACK in 10 s")
            elif msg[0] == "reset":
                unit.requests = 0
                if receiver is not None:
                    with receiver.lock:
                        receiver.arrivals.clear()
                _send("ok")
            elif msg[0] == "report":
                arrivals: list[tuple[str, float, bool, float]] = []
                if receiver is not None:
                    with receiver.lock:
                        arrivals = list(receiver.arrivals)
                _send("report", unit.requests, arrivals)
            elif msg[0] == "stop":
                break
    finally:
        if receiver is not None:
            receiver.close()
        server.close()


if __name__ == "__main__":
    serve(float(sys.argv[1]))
