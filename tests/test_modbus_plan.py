"""Coalescing: nearby registers of one table and unit share a request."""

from __future__ import annotations

from drivers.modbus.addressing import RegisterAddress as R
from drivers.modbus.plan import plan


def reference_map() -> list[R]:
    """25 uint16 holding registers and 25 float32 input registers."""
    return [R("holding", i, "uint16") for i in range(25)] + [
        R("input", 2 * i, "float32") for i in range(25)
    ]


def test_reference_map_takes_two_requests() -> None:
    blocks = plan(reference_map())
    assert [(b.table, b.start, b.count) for b in blocks] == [
        ("holding", 0, 25),
        ("input", 0, 50),
    ]
    assert sorted(i for b in blocks for i in b.members) == list(range(50))


def test_gap_limit_splits_and_joins() -> None:
    addrs = [R("holding", 0), R("holding", 11), R("holding", 23)]
    assert [(b.start, b.count) for b in plan(addrs, max_gap=10)] == [(0, 12), (23, 1)]
    assert len(plan(addrs, max_gap=11)) == 1
    assert len(plan(addrs, max_gap=0)) == 3


def test_limits_of_one_request() -> None:
    regs = [R("holding", i) for i in range(130)]
    assert [(b.start, b.count) for b in plan(regs)] == [(0, 125), (125, 5)]
    coils = [R("coil", i, "bit") for i in range(2001)]
    assert [(b.start, b.count) for b in plan(coils)] == [(0, 2000), (2000, 1)]


def test_tables_and_units_never_mix() -> None:
    addrs = [R("holding", 0), R("input", 1), R("holding", 1, unit=2), R("holding", 2)]
    blocks = plan(addrs)
    assert [(b.unit, b.table, b.start, b.count, b.members) for b in blocks] == [
        (1, "holding", 0, 3, (0, 3)),
        (1, "input", 1, 1, (1,)),
        (2, "holding", 1, 1, (2,)),
    ]


def test_overlapping_points_share_registers() -> None:
    # A float32 and a bit of its first register.
    addrs = [R("holding", 10, "float32"), R("holding", 10, "bit", bit=3)]
    assert [(b.start, b.count) for b in plan(addrs)] == [(10, 2)]
