"""The Modbus driver on an RTU line over a pseudo-terminal, several units sharing it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.clock import SimClock
from agent.config import Config, parse_config
from agent.reading import Quality
from agent.sampler import DeviceWorker, Sampler
from drivers.base import DriverContext
from drivers.modbus.device import ModbusDevice
from drivers.modbus.sim import RtuSimServer, SimUnit
from drivers.registry import kinds


def line_config(port: str, dead_timeout_s: float = 0.3) -> Config:
    # A unit's read waits for the line at most one other read; on a shared
    # line each timeout_s must cover that as well as its own reply.
    parts = []
    for unit in (1, 2, 3):
        timeout_s = dead_timeout_s if unit == 2 else 1.0
        parts.append(f"""
[[devices]]
name = "meter{unit}"
kind = "modbus-rtu"
port = "{port}"
baud = 115200
unit = {unit}
timeout_s = {timeout_s}
retries = 0

[[points]]
name = "voltage{unit}"
device = "meter{unit}"
profile = "energy_meter"
quantity = "voltage_v"
""")
    return parse_config("".join(parts), "line.toml")


@pytest.fixture
def line() -> Iterator[tuple[RtuSimServer, list[SimUnit]]]:
    units = [SimUnit(u) for u in (1, 2, 3)]
    for u in units:
        u.set("input", 0, 229.0 + u.unit, "float32")
    with RtuSimServer(units) as server:
        yield server, units


def open_line(config: Config, clock: SimClock) -> dict[str, ModbusDevice]:
    ctx = DriverContext(clock=clock, config=config)
    return {d.name: kinds()[d.kind].open(d, ctx) for d in config.devices}


def test_units_share_one_link_and_read_their_own_values(line) -> None:
    server, _ = line
    config = line_config(server.port)
    devs = open_line(config, SimClock())
    try:
        assert len({id(d.link) for d in devs.values()}) == 1
        values = [
            devs[f"meter{u}"].read([config.point(f"voltage{u}")])[0].value
            for u in (1, 2, 3)
        ]
        assert values == [230.0, 231.0, 232.0]
    finally:
        for d in devs.values():
            d.close()
    assert devs["meter1"].link._serial is None  # the last user closed the line


def test_bad_crc_becomes_a_bad_sample(line) -> None:
    server, units = line
    config = line_config(server.port)
    devs = open_line(config, SimClock())
    try:
        units[1].faults.bad_crc = True
        s = devs["meter2"].read([config.point("voltage2")])[0]
        assert s.quality is Quality.DEVICE_ERROR
        assert s.reason.startswith("bad CRC ")
        assert s.reason.endswith(" reading input 0-1 of unit 2")
    finally:
        for d in devs.values():
            d.close()


def test_a_dead_unit_leaves_the_others_their_period(line) -> None:
    server, units = line
    config = line_config(server.port)
    clock = SimClock()
    devs = open_line(config, clock)
    workers = {name: DeviceWorker(config.device(name), d) for name, d in devs.items()}
    sampler = Sampler(config.points, workers, clock.now())
    units[1].faults.gone = True  # unit 2 vanishes from the line
    polls = 8
    start = clock.now()
    try:
        good: dict[str, int] = {p.name: 0 for p in config.points}
        stamps: dict[str, list[float]] = {p.name: [] for p in config.points}
        for _ in range(polls):
            for r in sampler.poll(clock.now()):
                good[r.point] += r.ok
                if r.ok:
                    stamps[r.point].append(r.ts - start)
            clock.advance(1.0)
    finally:
        for w in workers.values():
            w.close()
    # Every poll of the live units completed; the dead one never did.
    assert good == {"voltage1": polls, "voltage2": 0, "voltage3": polls}
    # On the clock: a good reading of each live unit in every 1 s slot.
    slots = [float(i) for i in range(polls)]
    assert stamps["voltage1"] == slots and stamps["voltage3"] == slots
    assert sampler.health["meter2"].failures == polls
    assert units[1].requests == 0
    assert units[0].requests == polls and units[2].requests == polls


def test_unit_comes_back(line) -> None:
    server, units = line
    config = line_config(server.port)
    devs = open_line(config, SimClock())
    try:
        units[2].faults.gone = True
        s = devs["meter3"].read([config.point("voltage3")])[0]
        assert s.reason == "no reply from unit 3 within 1 s reading input 0-1 of unit 3"
        units[2].faults.gone = False
        assert devs["meter3"].read([config.point("voltage3")])[0].value == 232.0
    finally:
        for d in devs.values():
            d.close()
