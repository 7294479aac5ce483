"""The SQLite store: batches, power cuts, full disks, size and age bounds, export."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config.schema import StoreConfig
from agent.errors import StoreError
from agent.reading import Quality, Reading
from agent.store import codec, retention
from agent.store.schema import SCHEMA_VERSION
from agent.store.store import MAX_PENDING_READINGS, Event, Store
from tests.conftest import REPO

START = 1_767_225_600.0


def batch(t: float, points: int = 50, seconds: int = 5) -> list[Reading]:
    return [
        Reading(t + s, f"p{i:02d}", 20.0 + i + s / 10, Quality.GOOD)
        for s in range(seconds)
        for i in range(points)
    ]


def test_batch_round_trip(tmp_path: Path) -> None:
    with Store(tmp_path / "a.db") as store:
        store.add_readings(
            [
                Reading(START, "t", 21.5),
                Reading(START + 0.25, "t", None, Quality.TIMEOUT, "no answer"),
                Reading(START + 0.5, "h", 1e300, Quality.OUT_OF_RANGE),
            ]
        )
        assert store.commit()
        got = list(store.iter_readings())
    assert [(r.ts, r.point, r.value, r.quality) for r in got] == [
        (START, "t", 21.5, Quality.GOOD),
        (START + 0.25, "t", None, Quality.TIMEOUT),
        (START + 0.5, "h", 1e300, Quality.OUT_OF_RANGE),
    ]
    assert codec.DTYPE.itemsize == 15


def test_plain_and_deflated_batches_both_read() -> None:
    rows = [(i % 7, START + i / 10, 20.0 + i, i % 3) for i in range(500)]
    t0, _, blob = codec.encode(rows)
    plain = codec.decode(t0, blob).tobytes()
    assert blob.startswith(codec.MARK) and len(blob) < len(plain) / 2
    again = codec.decode(t0, plain)
    assert again.tobytes() == plain
    assert [int(p) for p in again["p"][:8]] == [0, 1, 2, 3, 4, 5, 6, 0]
    assert again["v"][499] == 519.0


def test_commits_are_batched(tmp_path: Path) -> None:
    with Store(tmp_path / "a.db", StoreConfig(commit_interval_s=5)) as store:
        commits = 0
        for s in range(60):
            store.add_readings(batch(START + s, seconds=1))
            commits += store.maybe_commit(START + s)
        assert commits == 11  # one every 5 s after the first 5 s
        assert store.stats.commits == 11


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError) as info:
        Store(path)
    assert str(info.value) == (
        f"{path}: database schema version {SCHEMA_VERSION + 1} is newer than this "
        f"edgetwin understands ({SCHEMA_VERSION}); upgrade edgetwin"
    )


def test_unopenable_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError) as info:
        Store(blocker / "sub" / "a.db")
    assert str(info.value).startswith(
        f"{blocker / 'sub' / 'a.db'}: cannot open database:"
    )


def test_full_disk_keeps_the_batch_and_recovers(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db")
    store.add_readings(batch(START))
    store.commit()
    # SQLite's page cap behaves as a full disk: SQLITE_FULL on the next write.
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    store.add_readings(batch(START + 5, seconds=60))
    with pytest.raises(StoreError, match="commit failed: database or disk is full"):
        store.commit()
    assert store.pending == 3000  # nothing lost while the disk is full

    store.conn.execute("PRAGMA max_page_count = 1073741823")
    assert store.commit()
    assert store.count_readings() == 3250
    store.close()


def test_full_disk_for_long_drops_oldest_in_memory_and_says_so(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db")
    store.add_readings(batch(START, seconds=1))
    store.commit()
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    store.add_readings(
        batch(START, points=100, seconds=MAX_PENDING_READINGS // 100 + 10)
    )
    with pytest.raises(StoreError):
        store.commit()
    assert len(store._readings) == MAX_PENDING_READINGS
    assert store.stats.readings_dropped == 1000
    store.conn.execute("PRAGMA max_page_count = 1073741823")
    store.commit()
    dropped = store.events("data_dropped")
    assert [e.data for e in dropped] == [{"readings": 1000, "reason": "unwritable"}]
    store.close()


def test_age_bound_drops_and_records(tmp_path: Path) -> None:
    cfg = StoreConfig(max_age_days=1)
    with Store(tmp_path / "a.db", cfg) as store:
        for h in range(48):
            store.add_readings(batch(START + h * 3600, points=2, seconds=1))
            store.commit()
        events = retention.enforce(store, START + 48 * 3600)
        store.commit()
        assert store.count_readings() == 2 * 24
        assert [e.data for e in events] == [{"readings": 48, "reason": "age"}]
        assert (
            store.events("data_dropped")[0].message
            == "dropped 48 readings: older than 1 days"
        )


def test_size_cap_holds_over_a_simulated_week(tmp_path: Path) -> None:
    # The reference workload (50 points at 1 Hz) for a week, committed in
    # one-minute batches, with retention every five minutes as the runtime does.
    cap_mb = 8
    cfg = StoreConfig(max_size_mb=cap_mb, commit_interval_s=60)
    path = tmp_path / "a.db"
    biggest = 0
    with Store(path, cfg) as store:
        store.conn.execute(
            "PRAGMA synchronous = OFF"
        )  # the bound, not the fsyncs, is under test
        for minute in range(7 * 24 * 60):
            t = START + minute * 60
            store.add_readings(batch(t, seconds=60))
            store.commit()
            if minute % 5 == 4:
                retention.enforce(store, t + 60)
            biggest = max(biggest, store.file_bytes())
        kept = store.count_readings()
        dropped = sum(e.data["readings"] for e in store.events("data_dropped"))
    assert biggest <= cap_mb * 1e6
    assert kept + dropped == 50 * 7 * 86400
    assert dropped > 0 and kept > 0
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_sigkill_at_random_moments_never_corrupts(tmp_path: Path) -> None:
    """Kill the running agent at random commits: every committed batch survives."""
    cfg = tmp_path / "site.toml"
    cfg.write_text(
        f"""
[agent]
state_dir = "{tmp_path}"
[store]
commit_interval_s = 2
[[devices]]
name = "plant"
kind = "sim"
[[points]]
name = "t"
device = "plant"
address = "cabinet_temp_c"
period_s = 0.1
[[points]]
name = "p"
device = "plant"
address = "power_w"
period_s = 0.1
"""
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    rng = random.Random(42)
    committed_total = 0
    for _kill in range(12):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agent",
                "--log-level",
                "debug",
                "run",
                "-c",
                str(cfg),
                "--speed",
                "max",
            ],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stderr is not None
        target = rng.randint(1, 40)
        seen = 0
        last_total = 0
        for line in proc.stderr:
            if "committed batch" in line:
                seen += 1
                last_total = int(line.rsplit("(", 1)[1].split()[0])
                if seen == target:
                    break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert seen == target, "agent ended before it was killed"
        committed_total += last_total

        conn = sqlite3.connect(cfg.parent / "edgetwin.db")
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        in_db = conn.execute("SELECT COALESCE(SUM(n), 0) FROM readings").fetchone()[0]
        # Everything reported committed is there; at most what was committed
        # after the last line read, before the kill landed, is extra.
        assert in_db >= committed_total
        for n, blob in conn.execute("SELECT n, data FROM readings"):
            assert len(codec.decode(0.0, blob)) == n
        conn.close()
        committed_total = in_db


def test_events_round_trip(tmp_path: Path) -> None:
    with Store(tmp_path / "a.db") as store:
        store.add_event(
            Event(START, "fault", "device 'x' not answering", "warning", "x", {"n": 1})
        )
        store.commit()
        (e,) = store.events()
    assert (e.kind, e.message, e.source, e.data) == (
        "fault",
        "device 'x' not answering",
        "x",
        {"n": 1},
    )


def test_an_older_database_is_migrated_in_place(tmp_path: Path) -> None:
    import sqlite_utils

    from agent.store.schema import MIGRATIONS

    path = tmp_path / "a.db"
    conn = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[1](sqlite_utils.Database(conn))
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO events (ts, kind, message) VALUES (1, 'x', 'kept')")
    conn.close()

    with Store(path) as store:
        version = store.conn.execute("PRAGMA user_version").fetchone()[0]
        indexes = {r[1] for r in store.conn.execute("PRAGMA index_list(outbox)")}
        kept = [e.message for e in store.events()]
    assert version == SCHEMA_VERSION
    assert any("seq" in name for name in indexes)
    assert kept == ["kept"]
