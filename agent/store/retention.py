"""Keep the database inside its age and size bounds, and say what was dropped.

Deleted pages go to SQLite's free list and are reused by later batches, so
the file stops growing at its page limit (see ``Store.limit_bytes``) instead
of shrinking and growing again, which would cost writes.
"""

from __future__ import annotations

import logging

from agent.store.store import Event, Store

log = logging.getLogger(__name__)


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
        events.append(
            _dropped(now, dropped, "age", f"older than {cfg.max_age_days:g} days")
        )

    # Size: the file cannot grow past its page limit; make room before it must.
    limit = store.limit_bytes
    if limit and store.used_bytes() > 0.9 * limit:
        dropped = store.drop_oldest(store.used_bytes() - int(0.8 * limit))
        if dropped:
            events.append(
                _dropped(now, dropped, "size", f"database above {cfg.max_size_mb:g} MB")
            )

    for e in events:
        store.add_event(e)
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
