"""A user mistake or an environment problem: one line on stderr, exit status 2."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from agent.errors import StoreError
from agent.store.store import Store


def test_a_read_only_database_names_the_file_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "edgetwin.db"
    with Store(path) as store:
        # SQLite's own refusal to write, as for a file the user cannot write.
        store.conn.execute("PRAGMA query_only = 1")
        with pytest.raises(StoreError) as info:
            store.set_meta("boot_id", "b1")
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)
        store.conn.execute("PRAGMA query_only = 0")
    assert str(info.value) == (
        f"{path}: cannot write 'boot_id': attempt to write a readonly database"
        " (the user running edgetwin must be able to write the file, its -wal and"
        f" -shm files and the directory {tmp_path}: fix their owner or"
        " permissions, or use another --state-dir)"
    )


def test_a_database_path_that_is_a_directory_says_so(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        Store(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}: cannot open database: it is a directory"
        f" (give a file in it, e.g. {tmp_path / 'edgetwin.db'})"
    )


def test_a_database_under_a_file_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("")
    with pytest.raises(StoreError) as info:
        Store(blocker / "sub" / "edgetwin.db")
    assert str(info.value) == (
        f"{blocker / 'sub' / 'edgetwin.db'}: cannot open database:"
        f" {blocker} is a file, not a directory (choose another path)"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any directory")
def test_an_unwritable_state_directory_says_so(tmp_path: Path) -> None:
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(StoreError) as info:
            Store(tmp_path / "edgetwin.db")
    finally:
        tmp_path.chmod(0o755)
    assert f"directory {tmp_path} is not writable" in str(info.value)
