"""The database's tables, its schema version and the migrations between versions."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

SCHEMA_VERSION = 2


def _v1(db: sqlite_utils.Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key")
    db.table("points").create({"id": int, "name": str, "unit": str}, pk="id")
    db.table("points").create_index(["name"], unique=True)
    # One row per committed batch: readings of every point packed in a blob
    # (see agent.store.codec). Per-row overhead and index pages are what wear
    # an SD card; a batch row costs a few pages per commit instead of hundreds.
    db.table("readings").create(
        {"id": int, "t0": float, "t1": float, "n": int, "data": bytes}, pk="id"
    )
    db.table("readings").create_index(["t1"])
    db.table("events").create(
        {
            "id": int,
            "ts": float,
            "kind": str,
            "severity": str,
            "source": str,
            "message": str,
            "data": str,
        },
        pk="id",
    )
    db.table("events").create_index(["ts"])
    db.table("actuations").create(
        {
            "id": int,
            "ts": float,
            "actuator": str,
            "value": float,
            "requested": float,
            "source": str,
            "reason": str,
            "data": str,
        },
        pk="id",
    )
    db.table("actuations").create_index(["actuator", "ts"])
    db.table("outbox").create(
        {
            "id": int,
            "ts": float,
            "topic": str,
            "priority": int,
            "seq": int,
            "payload": bytes,
        },
        pk="id",
    )
    db.table("outbox").create_index(["priority", "id"])


def _v2(db: sqlite_utils.Database) -> None:
    # The uplink deletes acknowledged messages by sequence number.
    db.table("outbox").create_index(["seq"])


MIGRATIONS: dict[int, Callable[[sqlite_utils.Database], None]] = {1: _v1, 2: _v2}


def current_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to ``SCHEMA_VERSION``, one migration per transaction.

    Returns the version found before migrating. Raises ``ValueError`` for a
    database written by a newer edgetwin.
    """
    found = current_version(conn)
    if found == SCHEMA_VERSION:
        return found
    # NOTE: imported only to migrate (PLC0415): sqlite-utils and what it
    # pulls in cost about 25 MB of resident memory, which a running agent
    # with an up-to-date database does not need to carry.
    import sqlite_utils  # noqa: PLC0415

    db = sqlite_utils.Database(conn)
    if found > SCHEMA_VERSION:
        raise ValueError(
            f"database schema version {found} is newer than this edgetwin "
            f"understands ({SCHEMA_VERSION}); upgrade edgetwin"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](db)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found
