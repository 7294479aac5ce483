"""Commands from upstream: check, authorise, run, and say what happened.

A command arrives on ``cmd/{name}`` as JSON ``{"id", "expires", "body",
"sig"}``. It is run only when it parses, names a known command, has a body
that matches the command's schema, has not expired, was not seen before
and, when a device key is configured, carries a valid HMAC-SHA256 ``sig``
over ``name``, ``id``, ``expires`` and the body (see ``signature``).
Anything else gets a ``rejected`` result that says why, and changes
nothing. Every command gets exactly one result on ``cmd/{name}/result``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from agent.actuators import Actuators
from agent.clock import Clock
from agent.errors import CommandError
from agent.store.store import Store
from agent.twin.forecast import Forecaster
from agent.uplink import schemas

log = logging.getLogger(__name__)

SEEN_KEY = "uplink_commands_seen"


class OverrideSink(Protocol):
    """Takes an actuator override for a bounded time; returns a one-line outcome."""

    def override(
        self, actuator: str, value: float, duration_s: float, who: str
    ) -> str: ...


class ActuatorOverride:
    """Default override: write through ``Actuators``, restore the prior value when it ends.

    ``tick(now)`` (called every cycle) ends overrides whose time is up.
    """

    def __init__(self, actuators: Actuators, clock: Clock) -> None:
        self.actuators = actuators
        self.clock = clock
        self.active: dict[str, tuple[float, float | None]] = {}

    def override(self, actuator: str, value: float, duration_s: float, who: str) -> str:
        if actuator not in self.actuators.configs:
            known = ", ".join(sorted(self.actuators.configs)) or "none"
            raise CommandError(
                f"actuator {actuator!r} is not configured (known: {known})"
            )
        cfg = self.actuators.configs[actuator]
        if not cfg.min <= value <= cfg.max:
            raise CommandError(
                f"value {value:g} for {actuator!r} is out of range ({cfg.min:g} to {cfg.max:g})"
            )
        before = self.actuators.state[actuator].value
        act = self.actuators.write(
            actuator,
            value,
            source=f"override:{who}",
            reason=f"override for {duration_s:g} s",
        )
        if act is None:
            raise CommandError(f"actuator {actuator!r}: the write failed")
        until = self.clock.now() + duration_s
        prior = self.active.get(actuator, (0.0, before))[1]
        self.active[actuator] = (until, prior)
        return f"{actuator} held at {act.value:g} until {until:.0f}"

    def tick(self, now: float) -> None:
        for name, (until, prior) in list(self.active.items()):
            if now >= until:
                del self.active[name]
                value = (
                    prior
                    if prior is not None
                    else self.actuators.configs[name].safe_value
                )
                self.actuators.write(
                    name, value, source="override", reason="override ended"
                )


@dataclass(frozen=True)
class Outcome:
    """What a command did: ``status`` is ok, rejected or failed."""

    id: str | None
    command: str
    status: str
    reason: str
    result: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "command": self.command,
            "status": self.status,
            "reason": self.reason,
        }
        if self.result is not None:
            out["result"] = self.result
        return out


def signature(
    key: bytes, name: str, cmd_id: str, expires: float, body: Mapping[str, Any]
) -> str:
    """HMAC-SHA256, hex, over ``name``, ``id``, ``expires`` and the canonical JSON body."""
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"))
    text = f"{name}\n{cmd_id}\n{expires!r}\n{canon}".encode()
    return hmac.new(key, text, hashlib.sha256).hexdigest()


Handler = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]


class Commands:
    """Check and run the commands that arrive; handlers are the built-ins plus extras."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        key: bytes | None = None,
        max_ttl_s: float = 3600.0,
        override_max_s: float = 3600.0,
        overrides: OverrideSink | None = None,
        forecaster: Forecaster | None = None,
        config_get: Callable[[], dict[str, Any]] | None = None,
        config_set: Callable[[str], dict[str, Any]] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.key = key
        self.max_ttl_s = max_ttl_s
        self.override_max_s = override_max_s
        self.overrides = overrides
        self.forecaster = forecaster
        self.config_get = config_get
        self.config_set = config_set
        self.handlers: dict[str, Handler] = {
            "ping": self._ping,
            "get_config": self._get_config,
            "set_config": self._set_config,
            "override": self._override,
            "what_if": self._what_if,
        }
        self.seen: dict[str, float] = json.loads(store.meta(SEEN_KEY, "{}") or "{}")
        self.counts: dict[str, int] = {}

    def handle(self, name: str, payload: bytes) -> Outcome:
        """Check and run one command; never raises for a bad command."""
        outcome = self._handle(name, payload)
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        if outcome.status != "ok":
            log.warning(
                "command %s %s: %s: %s",
                name,
                outcome.id,
                outcome.status,
                outcome.reason,
            )
        return outcome

    def _handle(self, name: str, payload: bytes) -> Outcome:  # noqa: PLR0911  # one return per reason to reject
        now = self.clock.now()

        # Parse and check the envelope.
        try:
            data = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return Outcome(None, name, "rejected", f"malformed JSON: {exc}")
        cmd_id = data.get("id") if isinstance(data, dict) else None
        cmd_id = cmd_id if isinstance(cmd_id, str) else None
        problem = schemas.problem("command", data)
        if problem:
            return Outcome(cmd_id, name, "rejected", f"bad command: {problem}")
        assert cmd_id is not None
        if name not in self.handlers:
            known = ", ".join(sorted(self.handlers))
            return Outcome(
                cmd_id, name, "rejected", f"unknown command {name!r} (known: {known})"
            )

        # Authorise: signature, expiry, replay.
        expires = float(data["expires"])
        if self.key is not None:
            sig = data.get("sig")
            if not sig:
                return Outcome(
                    cmd_id, name, "rejected", "unauthorised: signature missing"
                )
            want = signature(self.key, name, cmd_id, data["expires"], data["body"])
            if not hmac.compare_digest(sig, want):
                return Outcome(cmd_id, name, "rejected", "unauthorised: bad signature")
        if not math.isfinite(expires) or expires <= now:
            return Outcome(
                cmd_id, name, "rejected", f"expired at {expires:.0f} (now {now:.0f})"
            )
        if expires - now > self.max_ttl_s:
            return Outcome(
                cmd_id,
                name,
                "rejected",
                f"expiry {expires - now:.0f} s ahead is beyond the {self.max_ttl_s:g} s allowed",
            )
        if cmd_id in self.seen:
            return Outcome(
                cmd_id,
                name,
                "rejected",
                f"duplicate: command id {cmd_id!r} was already received",
            )
        problem = schemas.problem(f"cmd_{name}", data["body"])
        if problem:
            return Outcome(cmd_id, name, "rejected", f"bad body: {problem}")
        self._remember(cmd_id, expires, now)

        # Run.
        try:
            reason, result = self.handlers[name](data["body"])
        except CommandError as exc:
            return Outcome(cmd_id, name, "rejected", str(exc))
        except Exception as exc:  # a failing handler must not stop the agent
            log.exception("command %s %s failed", name, cmd_id)
            return Outcome(cmd_id, name, "failed", f"{type(exc).__name__}: {exc}")
        return Outcome(cmd_id, name, "ok", reason, result)

    def _remember(self, cmd_id: str, expires: float, now: float) -> None:
        # Ids are kept until their command expires; after that the expiry check rejects a replay.
        self.seen = {k: v for k, v in self.seen.items() if v > now}
        self.seen[cmd_id] = expires
        self.store.set_meta(SEEN_KEY, json.dumps(self.seen))

    # -- built-ins --------------------------------------------------------------

    def _ping(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return "pong", {"ts": self.clock.now()}

    def _get_config(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if self.config_get is None:
            raise CommandError("the configuration is not available to commands")
        return "configuration", self.config_get()

    def _set_config(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if self.config_set is None:
            raise CommandError("setting the configuration is not enabled on this agent")
        result = self.config_set(body["text"])
        return "configuration staged; the agent restarts with it", result

    def _override(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if self.overrides is None:
            raise CommandError("no actuators can be overridden on this agent")
        duration_s = float(body["duration_s"])
        if duration_s > self.override_max_s:
            raise CommandError(
                f"duration_s {duration_s:g} is above the {self.override_max_s:g} s allowed"
            )
        who = str(body.get("who", "upstream"))
        text = self.overrides.override(
            body["actuator"], float(body["value"]), duration_s, who
        )
        return text, {"actuator": body["actuator"], "duration_s": duration_s}

    def _what_if(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if self.forecaster is None:
            raise CommandError("twin not configured")
        fc = self.forecaster.what_if(
            body.get("inputs", {}),
            float(body["horizon_s"]),
            environment=body.get("environment"),
            step_s=float(body.get("step_s", 60.0)),
        )
        return "forecast", {
            "times_s": [float(t) for t in fc.times_s],
            "series": {k: [float(x) for x in v] for k, v in fc.series.items()},
        }
