"""The local store: one SQLite database, written in batches, bounded in size and age.

Everything the agent records goes through ``Store``: readings, events,
actuations and outgoing messages are buffered in memory and committed
together at most once every ``commit_interval_s``, so an SD card sees one
small write burst every few seconds instead of one per reading. A crash
loses at most the batch not yet committed; WAL mode and ``synchronous =
FULL`` keep every committed batch, and the file consistent, across a power
cut.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config.schema import StoreConfig
from agent.errors import StoreError
from agent.reading import Reading
from agent.store import codec
from agent.store.schema import migrate

log = logging.getLogger(__name__)

PAGE_SIZE = 1024
# While the disk is full or the file unwritable, readings wait in memory up
# to this many (about 10 minutes of 50 points at 10 Hz); older ones go first.
MAX_PENDING_READINGS = 300_000
# Room kept under the size cap for the write-ahead log: the auto-checkpoint
# runs at 1000 pages of 1 KiB and the log is truncated back to 1 MiB after.
WAL_ALLOWANCE_BYTES = 1_700_000


@dataclass
class Event:
    """Something worth telling a person: a fault, a drop, a config change."""

    ts: float
    kind: str
    message: str
    severity: str = "info"
    source: str = "agent"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Actuation:
    """One actuator write, with what asked for it and why."""

    ts: float
    actuator: str
    value: float
    requested: float
    source: str
    reason: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class StoreStats:
    """Counters a benchmark or ``status`` reads."""

    commits: int = 0
    readings_committed: int = 0
    readings_dropped: int = 0
    batches_dropped: int = 0


class Store:
    """The agent's SQLite database.

    Raises ``StoreError`` when the file cannot be opened or migrated. Use as
    a context manager, or call ``close()``; closing commits what is pending.
    """

    def __init__(self, path: str | Path, config: StoreConfig | None = None) -> None:
        self.path = Path(path)
        self.config = config or StoreConfig()
        self.stats = StoreStats()
        self._readings: list[Reading] = []
        self._events: list[Event] = []
        self._actuations: list[Actuation] = []
        self._outbox: list[tuple[float, str, int, int, bytes]] = []
        self._last_commit: float | None = None
        self._conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"{self.path}: cannot open database: {open_problem(self.path, exc)}"
            ) from exc
        try:
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA journal_size_limit = 1048576")
            # A hard page limit keeps the file under the cap whatever happens;
            # retention makes room before it is reached.
            cap = self.config.max_size_mb * 1e6 - WAL_ALLOWANCE_BYTES
            self.limit_pages = max(64, int(cap / PAGE_SIZE))
            conn.execute(f"PRAGMA max_page_count = {self.limit_pages}")
            migrate(conn)
            self._point_ids = {
                name: pid for pid, name in conn.execute("SELECT id, name FROM points")
            }
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(
                f"{self.path}: cannot open database: {open_problem(self.path, exc)}"
            ) from exc
        except ValueError as exc:
            conn.close()
            raise StoreError(f"{self.path}: {exc}") from exc
        self._conn = conn

    # -- lifetime -----------------------------------------------------------

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Commit what is pending and close the file; safe to call twice."""
        if self._conn is None:
            return
        try:
            self.commit()
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise StoreError(write_problem(self.path, "cannot close", exc)) from exc
        finally:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.path}: store is closed")
        return self._conn

    # -- buffering ------------------------------------------------------------

    def add_readings(self, readings: Iterable[Reading]) -> None:
        self._readings.extend(readings)

    def add_event(self, event: Event) -> None:
        self._events.append(event)

    def add_actuation(self, actuation: Actuation) -> None:
        self._actuations.append(actuation)

    def add_message(
        self, ts: float, topic: str, payload: bytes, priority: int = 1, seq: int = 0
    ) -> None:
        """Queue an upstream message; it is committed with the data it describes."""
        self._outbox.append((ts, topic, priority, seq, payload))

    @property
    def pending(self) -> int:
        return (
            len(self._readings)
            + len(self._events)
            + len(self._actuations)
            + len(self._outbox)
        )

    def maybe_commit(self, now: float) -> bool:
        """Commit if ``commit_interval_s`` has passed since the last commit."""
        if self._last_commit is None:
            self._last_commit = now
        if now - self._last_commit < self.config.commit_interval_s:
            return False
        self._last_commit = now
        return self.commit()

    def commit(self) -> bool:
        """Write every buffered item in one transaction; False when there was nothing.

        When the file is at its page limit, the oldest readings are dropped
        (and a ``data_dropped`` event recorded) and the commit tried once more.
        Raises ``StoreError`` when it still fails; the batch is kept for the
        next try.
        """
        if not self.pending:
            return False
        try:
            return self._commit()
        except StoreError as exc:
            if "full" not in str(exc) or self.used_bytes() < 0.5 * self.limit_bytes:
                raise
        needed = self._pending_bytes() + int(0.1 * self.limit_bytes)
        dropped = self.drop_oldest(needed)
        if dropped:
            log.warning(
                "store at its %d-byte limit: dropped the %d oldest readings",
                self.limit_bytes,
                dropped,
            )
            self._events.append(
                Event(
                    ts=self._readings[0].ts if self._readings else 0.0,
                    kind="data_dropped",
                    message=f"dropped {dropped} readings: database at its size limit",
                    severity="warning",
                    source="store",
                    data={"readings": dropped, "reason": "size"},
                )
            )
        return self._commit()

    @property
    def limit_bytes(self) -> int:
        return self.limit_pages * PAGE_SIZE

    def _pending_bytes(self) -> int:
        return (
            len(self._readings) * codec.DTYPE.itemsize
            + 200 * (len(self._events) + len(self._actuations))
            + sum(len(m[4]) for m in self._outbox)
        )

    def drop_oldest(self, nbytes: int) -> int:
        """Delete whole reading batches, oldest first, to free about ``nbytes``.

        Returns the number of readings deleted.
        """
        conn = self.conn
        ids: list[int] = []
        freed = dropped = 0
        for rid, n, size in conn.execute(
            "SELECT id, n, length(data) FROM readings ORDER BY t0, id"
        ):
            if freed >= nbytes:
                break
            ids.append(rid)
            freed += size + 40
            dropped += n
        if not ids:
            return 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("DELETE FROM readings WHERE id = ?", [(i,) for i in ids])
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreError(f"{self.path}: cannot drop old readings: {exc}") from exc
        self.stats.batches_dropped += len(ids)
        self.stats.readings_dropped += dropped
        return dropped

    def _commit(self) -> bool:
        conn = self.conn
        readings, self._readings = self._readings, []
        events, self._events = self._events, []
        actuations, self._actuations = self._actuations, []
        outbox, self._outbox = self._outbox, []
        try:
            conn.execute("BEGIN IMMEDIATE")
            if readings:
                ids = self._ids_for({r.point for r in readings})
                t0, t1, blob = codec.encode(codec.rows_of(readings, ids))
                conn.execute(
                    "INSERT INTO readings (t0, t1, n, data) VALUES (?, ?, ?, ?)",
                    (t0, t1, len(readings), blob),
                )
            if events:
                conn.executemany(
                    "INSERT INTO events (ts, kind, severity, source, message, data)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (
                            e.ts,
                            e.kind,
                            e.severity,
                            e.source,
                            e.message,
                            json.dumps(e.data),
                        )
                        for e in events
                    ],
                )
            if actuations:
                conn.executemany(
                    "INSERT INTO actuations (ts, actuator, value, requested, source, reason, data)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            a.ts,
                            a.actuator,
                            a.value,
                            a.requested,
                            a.source,
                            a.reason,
                            json.dumps(a.data),
                        )
                        for a in actuations
                    ],
                )
            if outbox:
                conn.executemany(
                    "INSERT INTO outbox (ts, topic, priority, seq, payload) VALUES (?, ?, ?, ?, ?)",
                    outbox,
                )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            # Keep the batch for the next try: a full disk may clear.
            self._readings[:0] = readings
            self._events[:0] = events
            self._actuations[:0] = actuations
            self._outbox[:0] = outbox
            self._bound_pending()
            raise StoreError(write_problem(self.path, "commit failed", exc)) from exc
        self.stats.commits += 1
        self.stats.readings_committed += len(readings)
        log.debug(
            "committed batch %d: %d readings, %d events (%d readings in all)",
            self.stats.commits,
            len(readings),
            len(events),
            self.stats.readings_committed,
        )
        return True

    def _bound_pending(self) -> None:
        """Keep at most ``MAX_PENDING_READINGS`` in memory while commits fail."""
        excess = len(self._readings) - MAX_PENDING_READINGS
        if excess <= 0:
            return
        del self._readings[:excess]
        self.stats.readings_dropped += excess
        log.error(
            "store unwritable: dropped the %d oldest readings held in memory", excess
        )
        self._events.append(
            Event(
                ts=self._readings[0].ts,
                kind="data_dropped",
                message=f"dropped {excess} readings: store unwritable",
                severity="error",
                source="store",
                data={"readings": excess, "reason": "unwritable"},
            )
        )

    def _ids_for(self, names: set[str]) -> dict[str, int]:
        missing = names - self._point_ids.keys()
        for name in sorted(missing):
            cur = self.conn.execute(
                "INSERT INTO points (name, unit) VALUES (?, '')", (name,)
            )
            self._point_ids[name] = int(cur.lastrowid or 0)
        return self._point_ids

    # -- reading back -----------------------------------------------------------

    def point_names(self) -> dict[int, str]:
        return {pid: name for name, pid in self._point_ids.items()}

    def iter_readings(
        self,
        start: float | None = None,
        end: float | None = None,
        points: Iterable[str] | None = None,
    ) -> Iterator[Reading]:
        """Yield committed readings in time order within ``[start, end)``."""
        names = {
            pid: name for pid, name in self.conn.execute("SELECT id, name FROM points")
        }
        wanted = None
        if points is not None:
            by_name = {n: i for i, n in names.items()}
            wanted = {by_name[p] for p in points if p in by_name}
        lo = float("-inf") if start is None else start
        hi = float("inf") if end is None else end
        rows = self.conn.execute(
            "SELECT t0, data FROM readings WHERE t1 >= ? AND t0 < ? ORDER BY t0, id",
            (lo, hi),
        )
        for t0, blob in rows:
            batch = [
                r for r in codec.readings(t0, blob, names, wanted) if lo <= r.ts < hi
            ]
            batch.sort(key=lambda r: r.ts)
            yield from batch

    def count_readings(self) -> int:
        return int(
            self.conn.execute("SELECT COALESCE(SUM(n), 0) FROM readings").fetchone()[0]
        )

    def events(self, kind: str | None = None) -> list[Event]:
        sql = "SELECT ts, kind, message, severity, source, data FROM events"
        args: tuple[Any, ...] = ()
        if kind:
            sql += " WHERE kind = ?"
            args = (kind,)
        return [
            Event(ts, k, m, sev, src, json.loads(d or "{}"))
            for ts, k, m, sev, src, d in self.conn.execute(sql + " ORDER BY id", args)
        ]

    # -- size -------------------------------------------------------------------

    def used_bytes(self) -> int:
        """Bytes the database's live pages take (free pages excluded)."""
        c = self.conn
        pages = c.execute("PRAGMA page_count").fetchone()[0]
        free = c.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * c.execute("PRAGMA page_size").fetchone()[0])

    def file_bytes(self) -> int:
        """Bytes on disk: the database file and its write-ahead log."""
        total = 0
        for suffix in ("", "-wal"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                total += p.stat().st_size
        return total

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute(
            "SELECT value FROM meta WHERE key = ?", (key,)
        ).fetchone()
        return default if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Write one meta value at once (its own small transaction)."""
        try:
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        except sqlite3.Error as exc:
            raise StoreError(
                write_problem(self.path, f"cannot write {key!r}", exc)
            ) from exc


_FIX = "the user running edgetwin must be able to write"


def write_problem(path: Path, what: str, exc: sqlite3.Error) -> str:
    """One line for a failed write: what failed, why, and for a read-only file what to do."""
    line = f"{path}: {what}: {exc}"
    if "readonly" in str(exc):
        line += (
            f" ({_FIX} the file, its -wal and -shm files and the directory"
            f" {path.parent}: fix their owner or permissions, or use another"
            " --state-dir)"
        )
    return line


def open_problem(path: Path, exc: Exception) -> str:
    """Why ``path`` cannot be opened, as far as the file system tells, and what to do."""
    parent = path.parent
    blocker = next((d for d in parent.parents if d.exists()), None)
    if path.is_dir():
        why = f"it is a directory (give a file in it, e.g. {path / 'edgetwin.db'})"
    elif not parent.exists() and blocker is not None and not blocker.is_dir():
        why = f"{blocker} is a file, not a directory (choose another path)"
    elif parent.exists() and not parent.is_dir():
        why = f"{parent} is a file, not a directory (choose another path)"
    elif not parent.is_dir():
        why = f"directory {parent} does not exist and cannot be created ({exc})"
    elif not os.access(parent, os.W_OK | os.X_OK):
        why = (
            f"directory {parent} is not writable ({exc}); {_FIX} it: fix its"
            " owner or permissions, or use another --state-dir"
        )
    elif path.exists() and not os.access(path, os.R_OK | os.W_OK):
        why = (
            f"the file is not readable and writable ({exc}); {_FIX} it: fix its"
            " owner or permissions"
        )
    else:
        why = str(exc)
    return why
