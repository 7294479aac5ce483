"""The controller stage: overrides, then policies, then the envelope, each cycle.

For every actuator with an override or a policy, the controller works out
the value it wants, asks the envelope what may be written, and writes only
when that differs from what the device holds. Every write becomes an
``Actuation`` (through ``Actuators``) and an ``Event`` of kind
``actuation`` whose message is the plain-language explanation.

When a policy's input is missing, of bad quality or older than
``control.max_input_age_s``, or its twin fails, the actuator goes to its
fail-safe value until the input comes back; the loss is logged once when it
starts and once when it ends.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.actuators import Actuators
from agent.clock import Clock
from agent.config.schema import ActuatorConfig, Config
from agent.control import overrides as ov
from agent.control.explain import explain
from agent.control.policies import InputsLostError, Policy, Proposal, build_policy
from agent.errors import CommandError
from agent.pipeline import Frame, Stage
from agent.reading import Reading
from agent.store.store import Actuation, Event
from agent.twin.forecast import Forecaster

if TYPE_CHECKING:
    from agent.stages import StageContext

log = logging.getLogger(__name__)


def check_binary(
    actuator: str, value: float | None, actuators: Iterable[ActuatorConfig]
) -> None:
    """Raise ``CommandError`` when a binary actuator is asked for other than 0 or 1."""
    cfg = next((a for a in actuators if a.name == actuator), None)
    if cfg is None or cfg.kind != "binary" or value is None:
        return
    if value not in (0.0, 1.0):
        raise CommandError(
            f"override: {actuator}: value {value:g} is not allowed for a binary"
            " actuator (0 for off or 1 for on)"
        )


EPS = 1e-9


class Controller:
    """The ``controller`` stage; also the uplink's ``OverrideSink``.

    ``forecaster`` is the twin, needed by predictive policies;
    ``overrides_dir`` is where ``edgetwin actuate`` drops requests (None:
    only the cloud can override). Raises ``EdgetwinError`` when a
    predictive policy has no forecaster.
    """

    name = "controller"

    def __init__(
        self,
        config: Config,
        clock: Clock,
        actuators: Actuators,
        *,
        forecaster: Forecaster | None = None,
        overrides_dir: str | Path | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.actuators = actuators
        self.max_input_age_s = config.control.max_input_age_s
        self.overrides_dir = None if overrides_dir is None else Path(overrides_dir)
        self.policies: dict[str, Policy] = {}
        for a in config.actuators:
            pc = config.control.policy(a.name)
            if pc is not None:
                env = actuators.envelopes[a.name]
                self.policies[a.name] = build_policy(
                    a, pc, lo=env.lo, hi=env.hi, forecaster=forecaster
                )
        self.units = {p.name: p.unit for p in config.points}
        self.active: dict[str, ov.Override] = {}
        self.lost: dict[str, str] = {}
        self._inbox: list[ov.OverrideRequest] = []
        self._lock = threading.Lock()

    # -- the uplink's door --------------------------------------------------------

    def override(self, actuator: str, value: float, duration_s: float, who: str) -> str:
        """Hold ``actuator`` at ``value`` for ``duration_s``; return a one-line outcome.

        Safe from another thread: the override takes effect in the next
        cycle. Raises ``CommandError`` for an unknown actuator, a value
        outside its range or a duration not allowed.
        """
        req = ov.OverrideRequest(
            actuator=actuator,
            value=float(value),
            duration_s=float(duration_s),
            who=who,
            id=ov.new_id(),
            requested_at=self.clock.now(),
        )
        ov.check_request(req, self._limits(), self.config.control.max_override_s)
        check_binary(req.actuator, req.value, self.config.actuators)
        with self._lock:
            self._inbox.append(req)
        return (
            f"override {req.id}: {actuator} held at {req.value:g} for "
            f"{req.duration_s:g} s by {who}, from the next cycle, within its envelope"
        )

    def _limits(self) -> dict[str, tuple[float, float]]:
        return {a.name: (a.min, a.max) for a in self.config.actuators}

    # -- one cycle ----------------------------------------------------------------

    def process(self, frame: Frame) -> None:
        """Decide and write every controlled actuator for this cycle."""
        now = frame.ts
        self.actuators.readings = frame.latest
        self._take_overrides(now, frame)
        for cfg in self.actuators.configs.values():
            self._control(cfg, now, frame)

    def _take_overrides(self, now: float, frame: Frame) -> None:
        with self._lock:
            requests, self._inbox = self._inbox, []
        if self.overrides_dir is not None:
            requests += ov.take_requests(self.overrides_dir)
        for req in requests:
            try:
                ov.check_request(
                    req, self._limits(), self.config.control.max_override_s
                )
                check_binary(req.actuator, req.value, self.config.actuators)
            except CommandError as exc:
                log.warning("%s", exc)
                frame.events.append(
                    Event(now, "override_rejected", str(exc), "warning", "controller")
                )
                continue
            if req.value is None:
                self._end_override(req.actuator, now, frame, "released")
                continue
            until = now + req.duration_s
            self.active[req.actuator] = ov.Override(req, now, until)
            log.info(
                "override of %s to %g by %s for %g s",
                req.actuator,
                req.value,
                req.who,
                req.duration_s,
            )
            frame.events.append(
                Event(
                    now,
                    "override",
                    f"{req.actuator} held at {req.value:g} by {req.who} for {req.duration_s:g} s",
                    source="controller",
                    data={
                        "actuator": req.actuator,
                        "value": req.value,
                        **ov.describe(self.active[req.actuator]),
                    },
                )
            )
        for name in [
            n for n, o in self.active.items() if now >= o.until or now < o.since
        ]:
            self._end_override(name, now, frame, "expired")

    def _end_override(self, name: str, now: float, frame: Frame, how: str) -> None:
        o = self.active.pop(name, None)
        if o is None:
            return
        frame.events.append(
            Event(
                now,
                "override_end",
                f"override of {name} by {o.request.who} {how}",
                source="controller",
                data={"actuator": name, **ov.describe(o)},
            )
        )
        if name not in self.policies:
            cfg = self.actuators.configs[name]
            self._write(
                cfg,
                cfg.safe_value,
                now,
                frame,
                source="override-end",
                reason=f"override by {o.request.who} {how}",
                data=ov.describe(o),
            )

    def _control(self, cfg: ActuatorConfig, now: float, frame: Frame) -> None:
        name = cfg.name
        o = self.active.get(name)
        if o is not None:
            self._write(
                cfg,
                o.value,
                now,
                frame,
                source="override",
                reason=f"manual override by {o.request.who}",
                data=ov.describe(o),
            )
            return
        policy = self.policies.get(name)
        if policy is None:
            return

        # The input first: no decision from a missing, bad or stale reading.
        reading = frame.latest.get(policy.point)
        problem = self._input_problem(policy.point, reading, now)
        proposal: Proposal | None = None
        if problem is None and reading is not None:
            try:
                proposal = policy.propose(
                    now, reading, self.actuators.state[name].value
                )
            except InputsLostError as exc:
                problem = str(exc)
        if problem is not None:
            if name not in self.lost:
                log.warning(
                    "actuator %r: inputs lost, going to the fail-safe value: %s",
                    name,
                    problem,
                )
            self.lost[name] = problem
            self._write(
                cfg,
                cfg.safe_value,
                now,
                frame,
                source="failsafe",
                reason=f"inputs lost: {problem}",
                data={"policy": policy.kind},
                fail_safe=True,
            )
            return
        if name in self.lost:
            log.warning("actuator %r: inputs back after: %s", name, self.lost.pop(name))
        assert proposal is not None and reading is not None
        self._write(
            cfg,
            proposal.value,
            now,
            frame,
            source="policy",
            reason=proposal.reason,
            data=proposal.data,
            inputs={policy.point: reading},
        )

    def _input_problem(self, point: str, r: Reading | None, now: float) -> str | None:
        if r is None:
            return f"no reading of {point} yet"
        if r.value is None or not r.ok or not math.isfinite(r.value):
            return f"{point} is {r.quality.label}"
        if now - r.ts > self.max_input_age_s:
            return (
                f"{point} is {now - r.ts:.0f} s old (limit {self.max_input_age_s:g} s)"
            )
        return None

    def _write(
        self,
        cfg: ActuatorConfig,
        value: float,
        now: float,
        frame: Frame,
        *,
        source: str,
        reason: str,
        data: dict[str, Any],
        inputs: Mapping[str, Reading] | None = None,
        fail_safe: bool = False,
    ) -> None:
        """Write when what the envelope allows differs from what the device holds."""
        st = self.actuators.state[cfg.name]
        decision = self.actuators.plan(
            cfg.name, value, inputs=inputs, fail_safe=fail_safe
        )
        if st.ok and st.value is not None and abs(decision.value - st.value) <= EPS:
            return
        act = self.actuators.write(
            cfg.name,
            value,
            source=source,
            reason=reason,
            data=data,
            inputs=inputs,
            fail_safe=fail_safe,
        )
        if act is not None:
            frame.events.append(self.event_for(act))

    def event_for(self, act: Actuation) -> Event:
        """The ``actuation`` event that tells upstream about ``act``."""
        cfg = self.actuators.configs[act.actuator]
        point = (act.data.get("inputs") or {}).keys()
        unit = next((self.units.get(p, "") for p in point), "")
        return Event(
            act.ts,
            "actuation",
            explain(act, cfg, unit),
            source="controller",
            data={
                "actuator": act.actuator,
                "value": act.value,
                "requested": act.requested,
                "source": act.source,
                "clamps": act.data.get("clamps", []),
            },
        )

    def close(self) -> None:
        return None


def build_controller(ctx: StageContext, earlier: list[Stage]) -> Controller:
    """Make the controller stage; the twin among ``earlier`` stages forecasts."""
    forecaster = next(
        (s for s in earlier if callable(getattr(s, "what_if", None))), None
    )
    cfg = ctx.config
    return Controller(
        cfg,
        ctx.clock,
        ctx.actuators,
        forecaster=forecaster,  # type: ignore[arg-type]  # checked by the callable test
        overrides_dir=Path(cfg.agent.state_dir) / cfg.control.overrides_dir,
    )
