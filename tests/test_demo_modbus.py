"""The demo configuration reads the plant's energy meter through the Modbus driver."""

from __future__ import annotations

import struct
import threading
from collections import defaultdict
from pathlib import Path

import pytest

from agent.clock import SimClock
from agent.config import default_config
from agent.reading import Quality, Reading
from agent.runtime import Agent
from agent.store.store import Store

START = 1_767_225_600.0
MINUTES = 5
METER_POINTS = ("power_w", "energy_kwh", "voltage_v", "frequency_hz")


def is_float32(value: float) -> bool:
    return struct.unpack(">f", struct.pack(">f", value))[0] == value


def sim_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("modbus-sim-")}


def run_demo(tmp_path: Path) -> dict[str, list[Reading]]:
    before = sim_threads()
    agent = Agent(default_config(), SimClock(start=START), state_dir=tmp_path)
    assert agent.config.device("meter").kind == "modbus-tcp"
    assert len(sim_threads() - before) == 1  # the agent started the meter
    agent.run(MINUTES * 60)
    assert sim_threads() == before  # and stopped it with the device
    with Store(tmp_path / "edgetwin.db") as store:
        readings = list(store.iter_readings())
    by_point: dict[str, list[Reading]] = defaultdict(list)
    for r in readings:
        by_point[r.point].append(r)
    return by_point


def test_demo_reads_the_energy_meter_over_modbus(tmp_path: Path) -> None:
    by_point = run_demo(tmp_path)
    cfg = default_config()
    for name in METER_POINTS:
        point = cfg.point(name)
        assert point.device == "meter"
        rs = by_point[name]
        assert len(rs) == MINUTES * 60 / point.period_s, name
        assert all(r.quality is Quality.GOOD for r in rs), [
            r.reason for r in rs if r.quality is not Quality.GOOD
        ][:3]
        # Every value went through a float32 input register.
        assert all(r.value is not None and is_float32(r.value) for r in rs), name

    def values(name: str) -> list[float]:
        return [r.value for r in by_point[name] if r.value is not None]

    # The plant: mains 230 V and 50 Hz with a little noise; a load of
    # 120 +- 40 W plus the 6 W fan at full duty (its safe value, control
    # being off), the heater off (its safe value).
    assert all(225 < v < 235 for v in values("voltage_v"))
    assert all(49.9 < f < 50.1 for f in values("frequency_hz"))
    power = values("power_w")
    assert all(80 - 3 < p < 160 + 6 + 3 for p in power)
    # The meter's energy counter rises by the power it reports, integrated.
    energy = values("energy_kwh")
    assert energy == sorted(energy)
    span_s = by_point["energy_kwh"][-1].ts - by_point["energy_kwh"][0].ts
    expected_kwh = sum(power) / len(power) * span_s / 3.6e6
    assert energy[-1] - energy[0] == pytest.approx(expected_kwh, rel=0.05)
