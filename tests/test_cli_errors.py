"""A user mistake or an environment problem: one line on stderr, exit status 2."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.main import EXIT_BROKEN_PIPE, build_parser, main
from agent.config import default_text
from agent.errors import EdgetwinError, StoreError
from agent.reading import Quality, Reading
from agent.store.store import Store
from tests.conftest import REPO


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


# -- the command line -----------------------------------------------------------

START = 1_796_400_000.0


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "edgetwin.db"
    with Store(path) as store:
        store.add_readings(
            Reading(START + s, f"p{i:02d}", 20.0 + i, Quality.GOOD)
            for s in range(600)
            for i in range(20)
        )
    return path


def fails(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the command; it must exit 2 with one line on stderr, which is returned."""
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = exc.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert status == 2, err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err.rstrip("\n")


def test_export_to_a_missing_directory(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "nowhere" / "x.csv"
    err = fails(capsys, "export", "--db", str(db), "-o", str(target))
    assert err == (
        f"edgetwin: export: -o {target}: directory {target.parent} does not exist"
        " (create it first)"
    )


def test_export_to_a_directory(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = fails(capsys, "export", "--db", str(db), "-o", str(tmp_path))
    assert err == (
        f"edgetwin: export: -o {tmp_path}: is a directory"
        f" (give a file name, e.g. {tmp_path / 'readings.csv'})"
    )


def test_export_from_after_to(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = fails(
        capsys, "export", "--db", str(db), "--from", "2026-12-05", "--to", "2026-12-04"
    )
    assert err == (
        "edgetwin: export: the start 2026-12-05T00:00:00+00:00 is not before --to"
        " 2026-12-04T00:00:00+00:00; nothing to export (swap them?)"
    )


@pytest.mark.parametrize("bad", ["nan", "inf", "tomorrow"])
def test_export_time_not_a_time(
    db: Path, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = fails(capsys, "export", "--db", str(db), "--to", bad)
    assert err.startswith(f"edgetwin export: argument --to: {bad!r} is not a time")


def test_export_since_with_from(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = fails(capsys, "export", "--db", str(db), "--since", "1h", "--from", "0")
    assert err == "edgetwin: export: give --since or --from, not both"


def test_export_help_names_the_columns_as_written(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--db", str(db), "--to", str(START + 1)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header == "time,ts,point,value,quality"
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert header in capsys.readouterr().out


def test_export_into_a_closed_pipe_stops_quietly(db: Path) -> None:
    # Like `edgetwin export | head -1`: the reader leaves after one line.
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", "export", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"time,ts,point,value,quality\r\n"
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == EXIT_BROKEN_PIPE
    assert err == b""


def test_debug_and_log_level_after_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = build_parser()
    args = parser.parse_args(["status", "--debug", "--log-level", "error"])
    assert (args.debug, args.log_level) == (True, "error")
    args = parser.parse_args(["--debug", "--log-level", "warning", "status"])
    assert (args.debug, args.log_level) == (True, "warning")
    args = parser.parse_args(["status"])
    assert (args.debug, args.log_level) == (False, "info")
    args = parser.parse_args(["bench", "pipeline", "--debug"])
    assert args.debug is True
    missing = tmp_path / "none.db"
    with pytest.raises(EdgetwinError):
        main(["status", "--db", str(missing), "--debug"])
    err = fails(capsys, "status", "--db", str(missing))
    assert err.startswith(f"edgetwin: {missing}: no database here")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["bench", "pipeline", "--rate", "0"],
            "argument --rate: '0' is not a number above 0",
        ),
        (
            ["bench", "pipeline", "--hours", "0"],
            "argument --hours: '0' is not a number above 0",
        ),
        (
            ["bench", "pipeline", "--hours", "-1"],
            "argument --hours: '-1' is not a number above 0",
        ),
        (
            ["bench", "pipeline", "--points", "2.5"],
            "argument --points: '2.5' is not a whole number above 0",
        ),
        (
            ["bench", "uplink", "--messages", "0"],
            "argument --messages: '0' is not a whole number above 0",
        ),
        (
            ["bench", "control", "--period", "nan"],
            "argument --period: 'nan' is not a number above 0",
        ),
        (
            ["bench", "twin", "--cycles", "-3"],
            "argument --cycles: '-3' is not a whole number above 0",
        ),
    ],
)
def test_bench_takes_only_positive_sizes(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    prog = " ".join(argv[:2])
    err = fails(capsys, *argv)
    assert err == f"edgetwin {prog}: {message} (see edgetwin {prog} --help)"


@pytest.mark.parametrize(
    ("site", "why"),
    [("a/#", "contains # /"), ("+", "contains +"), ("", "is empty")],
)
def test_listen_site_is_one_topic_level(
    site: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 9 (discard) on loopback: the check comes before any connection.
    err = fails(capsys, "listen", "--site", site, "--port", "9", "--timeout", "1s")
    assert err == (
        f"edgetwin listen: argument --site: {site!r} {why}; a site is one topic"
        " level without '/', '+' or '#' (e.g. plant-a) (see edgetwin listen --help)"
    )


def test_listen_prefix_has_no_wildcards(capsys: pytest.CaptureFixture[str]) -> None:
    err = fails(capsys, "listen", "--site", "a", "--prefix", "edgetwin/#")
    assert "argument --prefix: 'edgetwin/#' is not a topic prefix" in err


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The built-in simulated plant as a configuration file (heater binary, fan analog)."""
    path = tmp_path / "edgetwin.toml"
    path.write_text(default_text(), encoding="utf-8")
    return path


def test_actuate_a_binary_actuator_takes_0_or_1(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["-c", str(site), "--state-dir", str(tmp_path)]
    err = fails(capsys, "actuate", "heater", "0.5", *common)
    assert err == (
        "edgetwin: override: heater: value 0.5 is not allowed for a binary actuator"
        " (0 for off or 1 for on)"
    )
    assert not list((tmp_path / "overrides").glob("*"))
    assert main(["actuate", "heater", "1", *common]) == 0
    assert main(["actuate", "fan", "0.5", *common]) == 0
    assert len(list((tmp_path / "overrides").glob("*.json"))) == 2


def test_explain_an_unknown_actuator_lists_the_known_ones(
    site: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = fails(capsys, "explain", "pump", "-c", str(site), "--db", str(db))
    assert (
        err
        == "edgetwin: explain: actuator 'pump' is not configured (known: fan, heater)"
    )


@pytest.mark.parametrize("n", ["0", "-3"])
def test_explain_last_is_above_0(
    n: str, site: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = fails(capsys, "explain", "heater", "--last", n, "--db", str(db))
    assert err.startswith(f"edgetwin explain: argument --last: '{n}' is not a whole")


def test_init_writes_a_text_file_ending_in_one_newline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "edgetwin.toml"
    assert main(["init", str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and not text.endswith("\n\n")
    capsys.readouterr()
    assert main(["init", "-"]) == 0
    assert capsys.readouterr().out == text
    err = fails(capsys, "init", str(path))
    assert err == f"edgetwin: {path}: already exists (use --force to overwrite)"
