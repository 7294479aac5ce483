"""The outbox table: what the uplink reads back, deletes once acknowledged, and caps.

Rows enter through ``Store.add_message`` with the batch they describe.
Rows leave here: in batches once the broker acknowledged them, or when the
outbox passes its size or age bound, least important and oldest first. A
row too large for the broker is replaced by its parts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from agent.store.store import Store

# SQLite's own cost of one outbox row besides its payload (record header,
# the columns, the index entry), estimated for the size bound.
ROW_OVERHEAD_BYTES = 48


@dataclass(frozen=True)
class OutboxRow:
    """One stored upstream message."""

    id: int
    ts: float
    topic: str
    priority: int
    seq: int
    payload: bytes


def rows_after(
    store: Store, after_id: int, below_seq: int, limit: int
) -> list[OutboxRow]:
    """Rows with ``id > after_id`` and ``seq < below_seq``, in id order."""
    cur = store.conn.execute(
        "SELECT id, ts, topic, priority, seq, payload FROM outbox"
        " WHERE id > ? AND seq < ? ORDER BY id LIMIT ?",
        (after_id, below_seq, limit),
    )
    return [OutboxRow(*r) for r in cur]


def delete_seqs(store: Store, seqs: Iterable[int]) -> int:
    """Delete the rows of these sequence numbers in one transaction; return how many."""
    args = [(s,) for s in seqs]
    if not args:
        return 0
    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        before = conn.total_changes
        conn.executemany("DELETE FROM outbox WHERE seq = ?", args)
        n = conn.total_changes - before
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return n


def replace_row(
    store: Store, row_id: int, rows: list[tuple[float, str, int, int, bytes]]
) -> list[OutboxRow]:
    """Delete row ``row_id`` and insert ``rows`` (ts, topic, priority, seq, payload) in one transaction.

    Returns the inserted rows, in the order given, with their new ids.
    """
    conn = store.conn
    out: list[OutboxRow] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
        for ts, topic, priority, seq, payload in rows:
            cur = conn.execute(
                "INSERT INTO outbox (ts, topic, priority, seq, payload)"
                " VALUES (?, ?, ?, ?, ?)",
                (ts, topic, priority, seq, payload),
            )
            assert cur.lastrowid is not None
            out.append(OutboxRow(cur.lastrowid, ts, topic, priority, seq, payload))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return out


def size(store: Store) -> tuple[int, int]:
    """Rows and estimated bytes the outbox holds."""
    n, payload = store.conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox"
    ).fetchone()
    return int(n), int(payload) + int(n) * ROW_OVERHEAD_BYTES


def enforce_caps(
    store: Store, now: float, max_bytes: int, max_age_s: float
) -> dict[str, Counter[str]]:
    """Drop rows past the age bound, then the least important oldest past the size bound.

    Returns, per reason (``age``, ``size``), how many rows of each topic
    leaf were dropped; empty when nothing was.
    """
    conn = store.conn
    dropped: dict[str, Counter[str]] = {}

    # Age.
    old = conn.execute(
        "SELECT id, topic FROM outbox WHERE ts < ?", (now - max_age_s,)
    ).fetchall()
    if old:
        _delete_ids(store, [i for i, _ in old])
        dropped["age"] = Counter(_leaf(t) for _, t in old)

    # Size: down to nine tenths of the bound, so that it does not bite every check.
    _, used = size(store)
    if used > max_bytes:
        excess = used - int(0.9 * max_bytes)
        victims: list[tuple[int, str]] = []
        freed = 0
        cur = conn.execute(
            "SELECT id, topic, LENGTH(payload) FROM outbox ORDER BY priority DESC, id"
        )
        for rid, topic, n in cur:
            victims.append((rid, topic))
            freed += int(n) + ROW_OVERHEAD_BYTES
            if freed >= excess:
                break
        _delete_ids(store, [i for i, _ in victims])
        dropped["size"] = Counter(_leaf(t) for _, t in victims)
    return dropped


def _delete_ids(store: Store, ids: list[int]) -> None:
    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _leaf(topic: str) -> str:
    parts = topic.split("/")
    return "result" if parts[-1] == "result" else parts[-1]
