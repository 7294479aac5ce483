"""Measure the Modbus driver: requests per cycle, and its cost beside the wire.

Two figures, both from live reads against the simulators:

* requests per cycle: the reference map (25 uint16 holding registers and 25
  float32 input registers) is read through a ``modbus-tcp`` device from a
  loopback simulator, which counts the requests it receives;
* overhead per transaction over an RTU line on a pseudo-terminal pair:
  wall time and our thread's CPU time per transaction beside the wire time
  the same frames would take at the configured baud rate.

A pseudo-terminal has no baud-rate delay: bytes cross it at memory speed,
so the wire time is computed, never measured: (request bytes + reply
bytes) * 11 bits / baud, with 8E1 characters (start, 8 data, even parity,
stop), as Modbus RTU specifies. The overhead is then the wall time minus
the wire time of the pty itself, which is nil: the whole measured wall time
per transaction (framing, CRC, the inter-frame gap the driver keeps,
decoding, thread hand-offs, and the in-process simulator's answer time).
It is also given without the inter-frame gap, and a real line's
transaction time is projected as wire time plus overhead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.clock import SimClock
from agent.config import Config, parse_config
from agent.reading import Quality
from drivers.base import DriverContext
from drivers.modbus.device import ModbusDevice
from drivers.modbus.sim import RtuSimServer, SimUnit, TcpSimServer
from drivers.registry import kinds

BITS_PER_CHAR = 11
PARITY = "E"
UINT16_POINTS = 25
FLOAT32_POINTS = 25


@dataclass(frozen=True)
class LineFigures:
    """Per-transaction figures at one baud rate, in milliseconds."""

    baud: int
    transactions: int
    request_bytes: int
    reply_bytes: int
    wire_ms: float
    gap_ms: float
    wall_p50_ms: float
    wall_p99_ms: float
    beyond_gap_p50_ms: float
    beyond_gap_p99_ms: float
    cpu_p50_ms: float
    cpu_p99_ms: float


@dataclass(frozen=True)
class ModbusBench:
    """What ``edgetwin bench modbus`` reports."""

    points: int
    requests_per_cycle: float
    cycles: int
    lines: list[LineFigures] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str]]:
        """Return the figures as label and value rows for a table."""
        rows = [
            (
                "requests per cycle",
                f"{self.requests_per_cycle:g} for {self.points} points "
                f"({UINT16_POINTS} uint16 + {FLOAT32_POINTS} float32), counted at "
                f"the TCP simulator over {self.cycles} cycles",
            )
        ]
        for f in self.lines:
            rows += [
                (
                    f"{f.baud} baud wire",
                    f"{f.wire_ms:.3f} ms = ({f.request_bytes} + {f.reply_bytes} bytes)"
                    f" * {BITS_PER_CHAR} bits (8{PARITY}1) / {f.baud}; "
                    f"inter-frame gap {f.gap_ms:.3f} ms",
                ),
                (
                    f"{f.baud} baud overhead",
                    f"p50 {f.wall_p50_ms:.3f} ms, p99 {f.wall_p99_ms:.3f} ms "
                    f"per transaction (wall on the pty, {f.transactions} "
                    "transactions)",
                ),
                (
                    f"{f.baud} baud beyond gap",
                    f"p50 {f.beyond_gap_p50_ms:.3f} ms, p99 "
                    f"{f.beyond_gap_p99_ms:.3f} ms (overhead - inter-frame gap)",
                ),
                (
                    f"{f.baud} baud projected",
                    f"p50 {f.wire_ms + f.wall_p50_ms:.3f} ms per transaction on a "
                    f"real line (wire + overhead; overhead "
                    f"{100 * f.wall_p50_ms / (f.wire_ms + f.wall_p50_ms):.0f} %)",
                ),
                (
                    f"{f.baud} baud CPU",
                    f"p50 {f.cpu_p50_ms:.3f} ms, p99 {f.cpu_p99_ms:.3f} ms "
                    "(our thread)",
                ),
            ]
        rows.append(
            (
                "method",
                "a pty has no baud-rate delay, so wire time is computed and the "
                "whole wall time measured on the pty is overhead; it includes the "
                "in-process simulator's answer time and the inter-frame gap",
            )
        )
        return rows


def reference_points(device: str) -> str:
    """Return the reference map as configuration text for ``device``."""
    parts = []
    for i in range(UINT16_POINTS):
        parts.append(
            f'[[points]]\nname = "u{i}"\ndevice = "{device}"\n'
            f'table = "holding"\naddress = {i}\ntype = "uint16"\n'
        )
    for i in range(FLOAT32_POINTS):
        parts.append(
            f'[[points]]\nname = "f{i}"\ndevice = "{device}"\n'
            f'table = "input"\naddress = {2 * i}\ntype = "float32"\n'
        )
    return "\n".join(parts)


def reference_unit(unit: int = 1) -> SimUnit:
    """Return a simulated unit holding the reference map's registers."""
    u = SimUnit(unit)
    for i in range(UINT16_POINTS):
        u.set("holding", i, i, "uint16")
    for i in range(FLOAT32_POINTS):
        u.set("input", 2 * i, 0.5 * i, "float32")
    return u


def _open(config: Config) -> ModbusDevice:
    d = config.devices[0]
    device = kinds()[d.kind].open(d, DriverContext(SimClock(), config))
    assert isinstance(device, ModbusDevice)
    return device


def requests_per_cycle(cycles: int = 20) -> float:
    """Read the reference map ``cycles`` times from a TCP simulator; return requests/cycle.

    Raises ``RuntimeError`` if a read comes back with a bad sample, since
    then the count would not describe a normal cycle.
    """
    unit = reference_unit()
    with TcpSimServer([unit]) as server:
        text = (
            f'[[devices]]\nname = "ref"\nkind = "modbus-tcp"\nhost = "127.0.0.1"\n'
            f"port = {server.port}\ntimeout_s = 2\n\n" + reference_points("ref")
        )
        config = parse_config(text, "bench.toml")
        device = _open(config)
        try:
            for _ in range(cycles):
                samples = device.read(config.points)
                bad = [s for s in samples if s.quality is not Quality.GOOD]
                if bad:
                    raise RuntimeError(f"bench read failed: {bad[0].reason}")
        finally:
            device.close()
    return unit.requests / cycles


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    i = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[i]


def line_figures(baud: int, transactions: int = 300) -> LineFigures:
    """Time ``transactions`` reads of the 25 float32 block over a pty at ``baud``."""
    unit = reference_unit()
    with RtuSimServer([unit]) as server:
        text = (
            f'[[devices]]\nname = "ref"\nkind = "modbus-rtu"\nport = "{server.port}"\n'
            f'baud = {baud}\nparity = "{PARITY}"\ntimeout_s = 2\nretries = 0\n\n'
            + reference_points("ref")
        )
        config = parse_config(text, "bench.toml")
        floats = [p for p in config.points if p.name.startswith("f")]
        device = _open(config)
        walls: list[float] = []
        cpus: list[float] = []
        try:
            device.read(floats)  # opens the line
            before = unit.requests
            for _ in range(transactions):
                w0, c0 = time.perf_counter(), time.thread_time()
                samples = device.read(floats)
                cpus.append(time.thread_time() - c0)
                walls.append(time.perf_counter() - w0)
                if samples[0].quality is not Quality.GOOD:
                    raise RuntimeError(f"bench read failed: {samples[0].reason}")
            if unit.requests - before != transactions:
                raise RuntimeError(
                    f"expected one request per read, the simulator counted "
                    f"{unit.requests - before} for {transactions}"
                )
            gap_s = device.options.serial.gap_s
        finally:
            device.close()
    request_bytes = 8  # unit, function, start, count, CRC
    reply_bytes = 5 + 2 * 2 * FLOAT32_POINTS  # unit, function, byte count, data, CRC
    wire_s = (request_bytes + reply_bytes) * BITS_PER_CHAR / baud
    beyond_gap = [w - gap_s for w in walls]
    ms = 1000.0
    return LineFigures(
        baud=baud,
        transactions=transactions,
        request_bytes=request_bytes,
        reply_bytes=reply_bytes,
        wire_ms=wire_s * ms,
        gap_ms=gap_s * ms,
        wall_p50_ms=_percentile(walls, 0.5) * ms,
        wall_p99_ms=_percentile(walls, 0.99) * ms,
        beyond_gap_p50_ms=_percentile(beyond_gap, 0.5) * ms,
        beyond_gap_p99_ms=_percentile(beyond_gap, 0.99) * ms,
        cpu_p50_ms=_percentile(cpus, 0.5) * ms,
        cpu_p99_ms=_percentile(cpus, 0.99) * ms,
    )


def modbus(
    *,
    transactions: int = 300,
    bauds: tuple[int, ...] = (9600, 115200),
    cycles: int = 20,
    progress: Callable[[str], None] = lambda s: None,
) -> ModbusBench:
    """Run both measurements and return the figures."""
    progress(f"reading the reference map {cycles} times over TCP")
    per_cycle = requests_per_cycle(cycles)
    lines = []
    for baud in bauds:
        progress(f"{transactions} transactions over a pty at {baud} baud")
        lines.append(line_figures(baud, transactions))
    return ModbusBench(
        points=UINT16_POINTS + FLOAT32_POINTS,
        requests_per_cycle=per_cycle,
        cycles=cycles,
        lines=lines,
    )
