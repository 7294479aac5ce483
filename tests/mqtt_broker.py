"""A real mosquitto broker on a free loopback port, started and stopped by a test.

``Broker`` writes its own configuration in a temporary directory (listener
on 127.0.0.1, anonymous allowed, persistence off), waits until the port
accepts connections, and can be stopped and started again on the same port.
``make_tls`` creates a test CA and a server certificate with the openssl CLI.
"""

from __future__ import annotations

import getpass
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Broker:
    """One mosquitto process; ``start()``/``stop()`` may be called repeatedly."""

    def __init__(
        self, workdir: Path, *, port: int | None = None, extra: str = ""
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf = self.workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "log_dest none\n"
            # Started as root, mosquitto would switch to its own user, which
            # cannot read the certificates in the test's private directory.
            f"user {getpass.getuser()}\n"
            f"{extra}"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        """Start mosquitto and wait, bounded, until its port accepts connections."""
        assert self.proc is None
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while not _accepts(self.port):
            try:
                # Between two attempts, wait on the process: it must not exit.
                code = self.proc.wait(timeout=0.01)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None or time.monotonic() > deadline:
                self.proc = None if code is not None else self.proc
                self.stop()
                raise RuntimeError(
                    f"mosquitto on port {self.port} did not start ({code})"
                )

    def wait_port(self, port: int, timeout_s: float = 10.0) -> None:
        """Wait, bounded, until another listener of this broker accepts connections."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while not _accepts(port):
            try:
                code = self.proc.wait(timeout=0.01)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto: listener {port} did not open ({code})")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self) -> Broker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_tls(
    workdir: Path, *, server_name: str = "localhost", ip: str = "127.0.0.1"
) -> dict[str, Path]:
    """Create ``ca.pem`` and a server certificate for ``server_name``/``ip`` signed by it."""
    d = Path(workdir)
    d.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    run(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=edgetwin test CA",
    )
    run(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        f"/CN={server_name}",
    )
    (d / "ext.cnf").write_text(f"subjectAltName=DNS:{server_name},IP:{ip}\n")
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    )
    return {"ca": d / "ca.pem", "cert": d / "server.pem", "key": d / "server.key"}
