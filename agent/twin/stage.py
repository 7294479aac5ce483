"""The twin as a pipeline stage: feed it each frame, persist what it learned.

Each cycle the stage hands the twin the readings taken this cycle and the
actuators' last written values, then puts the twin's expected values,
residuals and z-scores in ``frame.estimates`` and its hidden quantities in
``frame.hidden``. The learned state is written to the store's meta table at
most every ``save_interval_s`` (to spare SD cards) and when the stage
closes, and read back when the stage is built.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping
from typing import Any

from agent.actuators import Actuators
from agent.clock import Clock
from agent.config.schema import Config
from agent.config.twin import twin_problems
from agent.errors import ConfigError, EdgetwinError
from agent.pipeline import Frame
from agent.reading import Reading
from agent.store.store import Store
from agent.twin.forecast import Forecast
from agent.twin.linear import LinearTwin
from agent.twin.thermal import ThermalInputs, ThermalTwin

log = logging.getLogger(__name__)

META_KEY = "twin.state"
STATE_VERSION = 1


class TwinStage:
    """Runs a thermal or linear twin on every frame; also the agent's ``Forecaster``."""

    name = "twin"

    def __init__(
        self, config: Config, clock: Clock, store: Store, actuators: Actuators
    ) -> None:
        problems = twin_problems(
            config.twin,
            (p.name for p in config.points),
            (a.name for a in config.actuators),
        )
        if problems:
            raise ConfigError([f"{config.source}: {p}" for p in problems])
        self.config = config.twin
        self.clock = clock
        self.store = store
        self.actuators = actuators
        self.kind = config.twin.kind
        self.twin = self._new_twin()
        self.last_save: float | None = None
        self.save_failed = False
        self.restore()

    def _new_twin(self) -> ThermalTwin | LinearTwin:
        if self.kind == "thermal":
            return ThermalTwin(self.config.thermal)
        return LinearTwin(self.config.linear, actuators=tuple(self.actuators.state))

    # -- the cycle --------------------------------------------------------------

    def process(self, frame: Frame) -> None:
        """Compare this cycle's readings with the twin and record what it says."""
        new = {r.point: r.value for r in frame.readings if r.ok and r.value is not None}
        if isinstance(self.twin, ThermalTwin):
            c = self.twin.config
            estimates = self.twin.observe(
                ThermalInputs(
                    ts=frame.ts,
                    temperature_c=new.get(c.temperature),
                    ambient_c=new.get(c.ambient),
                    power_w=new.get(c.power),
                    heater=self._actuator(c.heater),
                    fan=self._actuator(c.fan),
                    changed_ts=self._changed_ts(c.heater, c.fan),
                )
            )
        else:
            estimates = self.twin.observe(
                frame.ts, self._linear_values(frame.ts, frame.latest)
            )
        frame.estimates.update(estimates)
        frame.hidden.update(self.twin.hidden())
        if self.last_save is None:
            self.last_save = frame.ts
        elif frame.ts - self.last_save >= self.config.save_interval_s:
            self.save(frame.ts)

    def _actuator(self, name: str) -> float:
        if not name:
            return 0.0
        value = self.actuators.state[name].value
        return 0.0 if value is None else value

    def _changed_ts(self, *names: str) -> float | None:
        stamps = [self.actuators.state[n].ts for n in names if n]
        known = [t for t in stamps if t is not None]
        return max(known) if known else None

    def _linear_values(
        self, ts: float, latest: Mapping[str, Reading]
    ) -> dict[str, float | None]:
        stale_s = self.config.linear.stale_s
        out: dict[str, float | None] = {}
        for name in (*self.config.linear.outputs, *self.config.linear.inputs):
            if name in self.actuators.state:
                out[name] = self.actuators.state[name].value
                continue
            r = latest.get(name)
            ok = r is not None and r.ok and r.value is not None and ts - r.ts <= stale_s
            out[name] = r.value if ok and r is not None else None
        return out

    def what_if(
        self,
        inputs: Mapping[str, float],
        horizon_s: float,
        *,
        environment: Mapping[str, float] | None = None,
        step_s: float = 60.0,
    ) -> Forecast:
        """Forecast with the twin; see ``Forecaster``."""
        return self.twin.what_if(
            inputs, horizon_s, environment=environment, step_s=step_s
        )

    # -- persistence --------------------------------------------------------------

    def save(self, now: float) -> None:
        """Write the learned state to the store's meta table; log a failure once."""
        self.last_save = now
        data: dict[str, Any] = {
            "version": STATE_VERSION,
            "kind": self.kind,
            "saved_ts": now,
            "state": self.twin.state(),
        }
        try:
            self.store.set_meta(META_KEY, json.dumps(data, allow_nan=False))
        except (sqlite3.Error, EdgetwinError, ValueError) as exc:
            if not self.save_failed:
                log.warning("twin: cannot save its state: %s", exc)
            self.save_failed = True
            return
        if self.save_failed:
            log.warning("twin: saving its state works again")
        self.save_failed = False

    def restore(self) -> bool:
        """Load the saved state if it fits this twin; return whether it did."""
        try:
            text = self.store.meta(META_KEY)
        except (sqlite3.Error, EdgetwinError) as exc:
            log.warning("twin: cannot read its saved state, starting afresh: %s", exc)
            return False
        if text is None:
            return False
        try:
            data = json.loads(text)
            if data.get("version") != STATE_VERSION or data.get("kind") != self.kind:
                raise ValueError(
                    f"saved state is version {data.get('version')} of kind "
                    f"{data.get('kind')!r}, expected {STATE_VERSION} of {self.kind!r}"
                )
            self.twin.load(data["state"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("twin: ignoring its saved state, starting afresh: %s", exc)
            self.twin = self._new_twin()
            return False
        log.info(
            "twin: restored the %s state saved at %s", self.kind, data.get("saved_ts")
        )
        return True

    def close(self) -> None:
        """Save the state one last time."""
        self.save(self.clock.now())


def build_twin_stage(
    config: Config, clock: Clock, store: Store, actuators: Actuators
) -> TwinStage | None:
    """Return the configured twin stage, or None when ``twin.kind`` is ``none``."""
    if config.twin.kind == "none":
        return None
    return TwinStage(config, clock, store, actuators)
