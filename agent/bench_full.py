"""The reference workload for real: Modbus TCP, twin, model, store and uplink.

A process apart (``agent.bench_world``) serves 25 uint16 holding and 25
float32 input registers on loopback, counts the requests, and receives what
the agent publishes to a mosquitto this module starts on a free loopback
port. The agent reads the 50 points through a ``modbus-tcp`` device, runs a
linear twin over three of them, scores six with an int8 model trained at the
start from a short recorded run (in a child process, so TensorFlow stays
out of the measured one), stores everything and sends summaries.

On the real clock, CPU is the share of one core over the wall time; on the
accelerated clock it is CPU per cycle times the rate. Poll to broker is the
receiver's arrival time minus the message's ``ts``, the timestamp of the
cycle whose poll produced it: polling, the stages, the outbox, the MQTT
client, the broker and the receiver's client. It is measured on the real
clock only, for live (not historical) summaries and events.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import psutil

from agent.bench import _written_bytes
from agent.clock import Clock, RealClock, SimClock
from agent.config import parse_config
from agent.errors import CommandError
from agent.runtime import Agent, store_path
from agent.store.store import Store
from agent.uplink.bench import LocalBroker

# The reference register map (served by agent.bench_world in its own
# process, so that pymodbus is not counted in the agent's memory).
UINT16_POINTS = 25
FLOAT32_POINTS = 25

TWIN_OUTPUTS = ("f0",)
TWIN_INPUTS = ("u0", "f1")
FEATURES = ("f0", "f1", "f2", "f3", "u0", "u1")
RECORD_S = 1200.0
REPO = Path(__file__).resolve().parents[1]

_TRAIN = """
import sys
from pathlib import Path
from agent.bench_full import FEATURES, record
from models.train import TrainOptions, train
port, workdir = int(sys.argv[1]), Path(sys.argv[2])
csv = record(port, workdir)
train(csv, workdir / "bundle", TrainOptions(window=10, period_s=1.0), FEATURES)
"""


class World:
    """The simulator and receiver process (``agent.bench_world``); a context manager."""

    def __init__(self, period_s: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent.bench_world", str(period_s)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            self.modbus_port = int(self._read("start")[1])
        except BaseException:
            self.close()
            raise

    def _read(self, what: str) -> list[Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise CommandError(f"bench: the simulator ended before {what!r}")
        reply: list[Any] = json.loads(line)
        if reply[0] == "error":
            raise CommandError(f"bench: simulator: {reply[1]}")
        return reply

    def ask(self, *msg: Any) -> list[Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        return self._read(str(msg[0]))

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps(["stop"]) + "\n")
                self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        t: type[BaseException] | None,
        e: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def config_text(
    state_dir: str,
    modbus_port: int,
    period_s: float,
    *,
    bundle: str = "",
    broker_port: int = 0,
    window_s: float = 10.0,
) -> str:
    """The reference workload; the twin, model and uplink only when given."""
    lines = ["[site]", 'site = "bench"', 'device = "gw"', "[agent]"]
    lines += [f'state_dir = "{state_dir}"', "[[devices]]", 'name = "meter"']
    lines += ['kind = "modbus-tcp"', 'host = "127.0.0.1"', f"port = {modbus_port}"]
    lines += ["timeout_s = 2"]
    for i in range(UINT16_POINTS):
        lines += ["[[points]]", f'name = "u{i}"', 'device = "meter"']
        lines += ['table = "holding"', f"address = {i}", 'type = "uint16"']
        lines += [f"period_s = {period_s}"]
    for i in range(FLOAT32_POINTS):
        lines += ["[[points]]", f'name = "f{i}"', 'device = "meter"']
        lines += ['table = "input"', f"address = {2 * i}", 'type = "float32"']
        lines += [f"period_s = {period_s}"]
    if bundle:
        lines += ["[twin]", 'kind = "linear"', "[twin.linear]"]
        lines += [f"outputs = {list(TWIN_OUTPUTS)!r}".replace("'", '"')]
        lines += [f"inputs = {list(TWIN_INPUTS)!r}".replace("'", '"')]
        lines += ["step_s = 10", "learn_h = 0.02"]
        lines += ["[model]", "enabled = true", f'bundle = "{bundle}"']
        lines += ["learn_s = 60"]
    if broker_port:
        lines += ["[uplink]", "enabled = true", f"port = {broker_port}"]
        lines += [f"window_s = {window_s}"]
        lines += ["reconnect_min_s = 0.05", "reconnect_max_s = 0.5"]
    return "\n".join(lines)


def record(modbus_port: int, workdir: Path) -> Path:
    """Record ``RECORD_S`` of the plant at 1 Hz; return the export CSV of ``FEATURES``."""
    rec = workdir / "record"
    rec.mkdir()
    config = parse_config(config_text(str(rec), modbus_port, 1.0), "<record>")
    Agent(config, SimClock(), state_dir=rec).run(RECORD_S)
    csv_path = workdir / "record.csv"
    with (
        open(csv_path, "w") as f,
        Store(store_path(config, rec), config.store) as store,
    ):
        f.write("time,ts,point,value,quality\n")
        for r in store.iter_readings(None, None, list(FEATURES)):
            value = "" if r.value is None else repr(r.value)
            f.write(f",{r.ts:.3f},{r.point},{value},{r.quality.label}\n")
    return csv_path


def build_bundle(world: World, workdir: Path) -> Path:
    """Record the plant at 1 Hz and train a bundle on it, in a child process.

    The child keeps TensorFlow and the recording's memory out of the
    measured process. ``CommandError`` carries its last line when it fails
    (TensorFlow missing, say).
    """
    world.ask("period", 1.0)
    done = subprocess.run(
        [sys.executable, "-c", _TRAIN, str(world.modbus_port), str(workdir)],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CommandError(f"bench: training the bundle failed: {last}")
    return workdir / "bundle"


@dataclass
class FullResult:
    """What the full benchmark measured."""

    points: int
    rate_hz: float
    clock: str
    agent_s: float
    wall_s: float
    cycles: int
    cpu_s: float
    cpu_per_cycle_ms: float
    cpu_pct_of_core: float
    rss_mb: float
    numpy_loaded: bool
    tflite_loaded: bool
    scorer: str
    modbus_requests_per_cycle: float
    commits_per_hour: float
    bytes_written_per_hour: float
    messages_received: int
    latency_n: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    latency_max_ms: float | None
    overruns: int
    stage_errors: int

    def rows(self) -> list[tuple[str, str]]:
        def ms(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.1f} ms"

        how = "wall" if self.clock == "real" else "per cycle x rate"
        return [
            (
                "workload",
                f"{self.points} Modbus points ({UINT16_POINTS} uint16 + "
                f"{FLOAT32_POINTS} float32) at {self.rate_hz:g} Hz, linear twin, "
                f"model, store, uplink",
            ),
            (
                "clock",
                f"{self.clock}: {self.agent_s:.0f} s agent time, "
                f"{self.wall_s:.1f} s wall, {self.cycles} cycles",
            ),
            ("CPU per cycle", f"{self.cpu_per_cycle_ms:.3f} ms"),
            ("CPU, share of one core", f"{self.cpu_pct_of_core:.2f} % ({how})"),
            (
                "resident memory",
                f"{self.rss_mb:.1f} MB (numpy loaded: {self.numpy_loaded}, "
                f"TFLite runtime loaded: {self.tflite_loaded})",
            ),
            ("anomaly scorer", self.scorer),
            (
                "Modbus requests per cycle",
                f"{self.modbus_requests_per_cycle:g} (counted at the simulator)",
            ),
            ("commits per hour", f"{self.commits_per_hour:.0f}"),
            (
                "bytes written per hour",
                f"{self.bytes_written_per_hour / 1e6:.2f} MB (/proc/self/io wchar)",
            ),
            (
                "poll to broker, live",
                f"p50 {ms(self.latency_p50_ms)}, p99 {ms(self.latency_p99_ms)}, "
                f"max {ms(self.latency_max_ms)} over {self.latency_n} messages "
                f"({self.messages_received} received)",
            ),
            ("overruns, stage errors", f"{self.overruns}, {self.stage_errors}"),
        ]


MAKE_DB = "import sys; from agent.store.store import Store; Store(sys.argv[1]).close()"


def full(
    duration_s: float,
    rate_hz: float = 1.0,
    *,
    accelerated: bool = False,
    window_s: float = 10.0,
    bundle: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> FullResult:
    """Run the reference workload for ``duration_s`` of agent time and measure it.

    ``bundle`` reuses a bundle whose features are ``FEATURES``; otherwise one
    is trained first from a recorded run.
    """
    period_s = 1.0 / rate_hz
    say = progress or (lambda _m: None)
    with (
        tempfile.TemporaryDirectory(prefix="edgetwin-bench-full-") as tmp,
        World(period_s) as world,
    ):
        work = Path(tmp)
        if bundle is None:
            say(f"recording {RECORD_S:g} s of the plant and training a bundle ...")
            bundle = build_bundle(world, work)
        broker = LocalBroker(work)
        broker.start()
        try:
            world.ask("broker", broker.port)
            world.ask("period", period_s)
            state = work / "run"
            state.mkdir()
            text = config_text(
                str(state),
                world.modbus_port,
                period_s,
                bundle=str(bundle),
                broker_port=broker.port,
                window_s=window_s,
            )
            config = parse_config(text, "<reference workload>")
            # The database is made by a child process, as by an earlier boot:
            # what is measured is an agent restarted on an existing database
            # (creating the schema imports sqlite-utils, which such an agent
            # never loads).
            subprocess.run(
                [sys.executable, "-c", MAKE_DB, str(state / config.store.path)],
                check=True,
            )
            clock: Clock = SimClock() if accelerated else RealClock()
            agent = Agent(config, clock, state_dir=state)
            world.ask("reset")
            kind = "accelerated" if accelerated else "real"
            say(f"running {duration_s:g} s at {rate_hz:g} Hz on the {kind} clock ...")
            proc = psutil.Process()
            w0, c0, t0, a0 = (
                _written_bytes(),
                proc.cpu_times(),
                time.perf_counter(),
                clock.now(),
            )
            agent.run(duration_s)
            w1, c1, t1 = _written_bytes(), proc.cpu_times(), time.perf_counter()
            rss = proc.memory_info().rss
            _, requests, arrivals = world.ask("report")
        finally:
            broker.stop()
        detector = agent.stages[1]
        scorer = getattr(getattr(detector, "detector", None), "source", "off")
        if scorer == "statistical":
            scorer += " (no TFLite runtime: the statistical fallback scored)"
        cpu = (c1.user - c0.user) + (c1.system - c0.system)
        cycles = max(1, agent.stats.cycles)
        wall = t1 - t0
        agent_s = duration_s
        hours = agent_s / 3600.0
        lat = [
            (arrived - ts) * 1000
            for leaf, ts, historical, arrived in arrivals
            if leaf in ("summary", "event") and not historical and ts >= a0
        ]
        measured = not accelerated and bool(lat)
        pct = (cpu / wall if not accelerated else cpu / cycles * rate_hz) * 100
        return FullResult(
            points=len(config.points),
            rate_hz=rate_hz,
            clock=kind,
            agent_s=agent_s,
            wall_s=wall,
            cycles=agent.stats.cycles,
            cpu_s=cpu,
            cpu_per_cycle_ms=cpu / cycles * 1000,
            cpu_pct_of_core=pct,
            rss_mb=rss / 1e6,
            numpy_loaded="numpy" in sys.modules,
            tflite_loaded=any(
                m in sys.modules for m in ("ai_edge_litert", "tflite_runtime")
            ),
            scorer=scorer,
            modbus_requests_per_cycle=requests / cycles,
            commits_per_hour=agent.store.stats.commits / hours,
            bytes_written_per_hour=(w1 - w0) / hours,
            messages_received=len(arrivals),
            latency_n=len(lat) if measured else 0,
            latency_p50_ms=float(np.percentile(lat, 50)) if measured else None,
            latency_p99_ms=float(np.percentile(lat, 99)) if measured else None,
            latency_max_ms=max(lat) if measured else None,
            overruns=agent.stats.overruns,
            stage_errors=agent.stats.stage_errors,
        )
