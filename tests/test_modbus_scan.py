"""Scanning a Modbus link for answering units, over TCP and an RTU pty line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from subprocess import CompletedProcess

import pytest

from agent.clock import SimClock
from agent.errors import CommandError
from drivers.modbus.link import RtuLink, SerialSettings, TcpLink
from drivers.modbus.scan import parse_units, scan
from drivers.modbus.sim import RtuSimServer, SimUnit, TcpSimServer

Cli = Callable[..., CompletedProcess[str]]


def units_1_and_3() -> list[SimUnit]:
    one = SimUnit(1)
    one.set_registers("holding", 0, [0x1234])
    # Unit 3 has no holding register 0: it answers with exception 2.
    three = SimUnit(3)
    three.set_registers("input", 0, [7])
    return [one, three]


@pytest.fixture
def tcp_server() -> Iterator[TcpSimServer]:
    with TcpSimServer(units_1_and_3()) as server:
        yield server


def test_scan_over_tcp_finds_exactly_units_1_and_3(tcp_server: TcpSimServer) -> None:
    link = TcpLink("127.0.0.1", tcp_server.port, clock=SimClock())
    try:
        found = scan(link, range(1, 6), timeout_s=0.2)
    finally:
        link.close()
    assert [(a.unit, a.detail) for a in found] == [
        (1, "holding 0 = 4660 (0x1234)"),
        (3, "exception 2 (illegal data address)"),
    ]
    assert tcp_server.units[1].requests == 1
    assert tcp_server.units[3].requests == 1


def test_scan_over_an_rtu_line_finds_exactly_units_1_and_3() -> None:
    with RtuSimServer(units_1_and_3()) as server:
        link = RtuLink(server.port, SerialSettings(baud=115200), clock=SimClock())
        try:
            found = scan(link, [1, 2, 3, 4], timeout_s=0.1)
        finally:
            link.close()
    assert [a.unit for a in found] == [1, 3]


def test_a_unit_with_a_bad_crc_is_listed_as_malformed() -> None:
    units = units_1_and_3()
    units[0].faults.bad_crc = True
    with RtuSimServer(units) as server:
        link = RtuLink(server.port, SerialSettings(baud=115200), clock=SimClock())
        try:
            found = scan(link, [1], timeout_s=0.2)
        finally:
            link.close()
    assert len(found) == 1
    assert found[0].unit == 1
    assert found[0].detail.startswith("malformed reply: ")


def test_parse_units() -> None:
    assert parse_units("1-247") == list(range(1, 248))
    assert parse_units("1,3,10-12") == [1, 3, 10, 11, 12]
    with pytest.raises(CommandError) as info:
        parse_units("0-5")
    assert str(info.value) == (
        "--units: '0-5' is not allowed "
        "(a unit or range within 1 to 247, such as 1-247 or 1,3,10-12)"
    )


def test_cli_lists_answering_units(cli: Cli, tcp_server: TcpSimServer) -> None:
    result = cli(
        "scan", "modbus", "--host", "127.0.0.1", "--port", str(tcp_server.port),
        "--units", "1-4", "--timeout", "0.2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"127.0.0.1:{tcp_server.port}: 2 units answered",
        "  unit   1  holding 0 = 4660 (0x1234)",
        "  unit   3  exception 2 (illegal data address)",
    ]


def test_cli_bad_units_is_one_line_and_exit_2(cli: Cli) -> None:
    result = cli("scan", "modbus", "--host", "127.0.0.1", "--units", "1-300")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "edgetwin: --units: '1-300' is not allowed "
        "(a unit or range within 1 to 247, such as 1-247 or 1,3,10-12)"
    ]


def test_cli_help_has_examples(cli: Cli) -> None:
    result = cli("scan", "modbus", "--help")
    assert result.returncode == 0
    assert "edgetwin scan modbus --serial /dev/ttyUSB0" in result.stdout
