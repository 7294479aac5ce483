"""Keep the database inside its age and size bounds, and say what was dropped.

Deleted pages go to SQLite's free list and are reused by later batches, so
the file stops growing once it reaches the high-water mark instead of
shrinking and growing again (which would cost writes).
"""

from __future__ import annotations

import logging

from agent.store.store import Event, Store

log = logging.getLogger(__name__)

# Room kept for the write-ahead log: the auto-checkpoint runs at 1000 pages
# of 1 KiB, plus one batch in flight.
WAL_ALLOWANCE_BYTES = 1_300_000


def enforce(store: Store, now: float) -> list[Event]:
    """Drop readings older than the age bound, then the oldest past the size bound.

    Returns the ``data_dropped`` events it recorded (already added to the
    store's buffer, so they are committed with the next batch).
    """
    cfg = store.config
    events: list[Event] = []

    # Age.
    cutoff = now - cfg.max_age_days * 86400.0
    dropped = _delete_older(store, cutoff)
    if dropped:
        events.append(_dropped(now, dropped, "age", f"older than {cfg.max_age_days:g} days"))

    # Size: stop at the high-water mark, delete down to nine tenths of it.
    high = max(cfg.max_size_mb * 1e6 - WAL_ALLOWANCE_BYTES, cfg.max_size_mb * 1e6 * 0.5)
    used = store.used_bytes()
    if used > high:
        n_total = store.count_readings()
        if n_total:
            per_reading = used / n_total
            excess = int((used - 0.9 * high) / per_reading) + 1
            dropped = _delete_oldest(store, excess)
            if dropped:
                events.append(
                    _dropped(now, dropped, "size", f"database above {cfg.max_size_mb:g} MB")
                )

    for e in events:
        store.add_event(e)
        store.stats.readings_dropped += int(e.data["readings"])
    return events


def _delete_older(store: Store, cutoff: float) -> int:
    """Delete readings, events and actuations older than ``cutoff``."""
    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        n = conn.execute(
            "SELECT COALESCE(SUM(n), 0) FROM readings WHERE t1 < ?", (cutoff,)
        ).fetchone()[0]
        for sql in (
            "DELETE FROM readings WHERE t1 < ?",
            "DELETE FROM events WHERE ts < ?",
            "DELETE FROM actuations WHERE ts < ?",
        ):
            conn.execute(sql, (cutoff,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return int(n)


def _delete_oldest(store: Store, readings: int) -> int:
    """Delete whole batches, oldest first, until at least ``readings`` are gone."""
    conn = store.conn
    ids: list[int] = []
    total = 0
    for rid, n in conn.execute("SELECT id, n FROM readings ORDER BY t0, id"):
        ids.append(rid)
        total += n
        if total >= readings:
            break
    if not ids:
        return 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany("DELETE FROM readings WHERE id = ?", [(i,) for i in ids])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    store.stats.batches_dropped += len(ids)
    return total


def _dropped(now: float, count: int, reason: str, why: str) -> Event:
    log.warning("dropped %d readings from the store: %s", count, why)
    return Event(
        ts=now,
        kind="data_dropped",
        severity="warning",
        source="store",
        message=f"dropped {count} readings: {why}",
        data={"readings": count, "reason": reason},
    )
