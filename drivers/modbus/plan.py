"""Coalesce the points of one read into as few Modbus requests as the map allows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drivers.modbus.addressing import MAX_READ, READ_FUNCTION, RegisterAddress


@dataclass(frozen=True)
class Block:
    """One read request: ``count`` registers (or bits) of ``table`` from ``start``.

    ``members`` holds the indexes of the addresses it serves, in the order
    given to ``plan``.
    """

    unit: int
    table: str
    start: int
    count: int
    members: tuple[int, ...]

    @property
    def function(self) -> int:
        return READ_FUNCTION[self.table]

    def describe(self) -> str:
        """Return the block as it appears in reasons, e.g. ``holding 100-109``."""
        return f"{self.table} {self.start}-{self.start + self.count - 1}"


def plan(addresses: Sequence[RegisterAddress], max_gap: int = 10) -> list[Block]:
    """Group ``addresses`` into read blocks.

    Addresses of the same unit and table join one block while the hole
    between them is at most ``max_gap`` registers (bits count as registers
    here too, times 16) and the block stays within the request limit (125
    registers, 2000 bits). Blocks come out sorted by unit, table and start.
    """
    order = sorted(
        range(len(addresses)),
        key=lambda i: (addresses[i].unit, addresses[i].table, addresses[i].address),
    )
    blocks: list[Block] = []
    cur: list[int] = []
    start = end = 0
    for i in order:
        a = addresses[i]
        if cur:
            head = addresses[cur[0]]
            gap_limit = max_gap * 16 if a.table in ("coil", "discrete") else max_gap
            same = head.unit == a.unit and head.table == a.table
            new_end = max(end, a.end)
            if (
                same
                and a.address - end <= gap_limit
                and new_end - start <= MAX_READ[a.table]
            ):
                cur.append(i)
                end = new_end
                continue
            blocks.append(Block(head.unit, head.table, start, end - start, tuple(cur)))
        cur, start, end = [i], a.address, a.end
    if cur:
        head = addresses[cur[0]]
        blocks.append(Block(head.unit, head.table, start, end - start, tuple(cur)))
    return blocks
