"""Manual overrides: a value that beats the policies, for a while, with who asked.

Two doors lead in. A technician on site runs ``edgetwin actuate NAME VALUE
--for 10m``, which drops one request file into the overrides directory
(``control.overrides_dir`` under the state directory)::

    /var/lib/edgetwin/overrides/1767225600.123-3f2a9c1e.json
    {"actuator": "fan", "value": 1.0, "duration_s": 600, "who": "alice",
     "reason": "filter change", "id": "3f2a9c1e", "requested_at": 1767225600.1}

``"value": null`` releases an override early. The file is written under a
temporary name and renamed, so the agent never reads half a request. The
running controller reads and removes the files each cycle; a request that
cannot be used is renamed to ``*.rejected`` and logged. The cloud comes in
through ``Controller.override`` (the uplink's ``OverrideSink``).

The duration counts from when the agent takes the request up, on the
agent's clock. An override never passes the safety envelope.
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import CommandError

log = logging.getLogger(__name__)

SUFFIX = ".json"


@dataclass(frozen=True)
class OverrideRequest:
    """A request to hold ``actuator`` at ``value`` (None: release) for ``duration_s``."""

    actuator: str
    value: float | None
    duration_s: float
    who: str
    reason: str = ""
    id: str = ""
    requested_at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(
            {
                "actuator": self.actuator,
                "value": self.value,
                "duration_s": self.duration_s,
                "who": self.who,
                "reason": self.reason,
                "id": self.id,
                "requested_at": self.requested_at,
            }
        )

    @classmethod
    def from_json(cls, text: str, source: str) -> OverrideRequest:
        """Parse one request file; raises ``CommandError`` naming ``source``."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"{source}: not valid JSON: {exc}") from None
        if not isinstance(d, dict):
            raise CommandError(f"{source}: expected a JSON object")
        value = d.get("value")
        duration_s = d.get("duration_s")
        if not isinstance(d.get("actuator"), str):
            raise CommandError(
                f"{source}: actuator: expected a string, got {d.get('actuator')!r}"
            )
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise CommandError(
                f"{source}: value: expected a number or null, got {value!r}"
            )
        if isinstance(duration_s, bool) or not isinstance(duration_s, int | float):
            raise CommandError(
                f"{source}: duration_s: expected a number, got {duration_s!r}"
            )
        return cls(
            actuator=d["actuator"],
            value=None if value is None else float(value),
            duration_s=float(duration_s),
            who=str(d.get("who") or "unknown"),
            reason=str(d.get("reason") or ""),
            id=str(d.get("id") or ""),
            requested_at=float(d.get("requested_at") or 0.0),
        )


@dataclass(frozen=True)
class Override:
    """An override in force until ``until`` (agent clock, seconds since the epoch)."""

    request: OverrideRequest
    since: float
    until: float

    @property
    def actuator(self) -> str:
        return self.request.actuator

    @property
    def value(self) -> float:
        assert self.request.value is not None
        return self.request.value


def new_id() -> str:
    return uuid.uuid4().hex[:8]


def submit(directory: str | Path, request: OverrideRequest) -> Path:
    """Drop ``request`` into ``directory`` for the running agent; return its path.

    Raises ``CommandError`` when the directory cannot be written.
    """
    d = Path(directory)
    name = f"{request.requested_at:.3f}-{request.id}{SUFFIX}"
    tmp = d / f".{name}.tmp"
    try:
        d.mkdir(parents=True, exist_ok=True)
        tmp.write_text(request.to_json(), encoding="utf-8")
        os.replace(tmp, d / name)
    except OSError as exc:
        raise CommandError(f"{d}: cannot write the override request: {exc}") from None
    return d / name


def take_requests(directory: Path) -> list[OverrideRequest]:
    """Read and remove every request file in ``directory``, oldest first."""
    try:
        names = sorted(
            e.name
            for e in os.scandir(directory)
            if e.name.endswith(SUFFIX) and e.is_file()
        )
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("%s: cannot list override requests: %s", directory, exc)
        return []
    out = []
    for name in names:
        path = directory / name
        try:
            out.append(
                OverrideRequest.from_json(path.read_text(encoding="utf-8"), str(path))
            )
            path.unlink()
        except (CommandError, OSError, UnicodeDecodeError) as exc:
            log.warning("override request rejected: %s", exc)
            _reject(path)
    return out


def _reject(path: Path) -> None:
    try:
        os.replace(path, path.with_suffix(".rejected"))
    except OSError:
        log.warning("%s: cannot set the rejected request aside", path)


def check_request(
    request: OverrideRequest,
    limits: dict[str, tuple[float, float]],
    max_duration_s: float,
) -> None:
    """Raise ``CommandError`` for an unknown actuator, a value or duration not allowed."""
    lim = limits.get(request.actuator)
    if lim is None:
        known = ", ".join(sorted(limits)) or "none are configured"
        raise CommandError(
            f"override: actuator {request.actuator!r} is not configured (known: {known})"
        )
    lo, hi = lim
    v = request.value
    if v is not None and (not math.isfinite(v) or not lo <= v <= hi):
        raise CommandError(
            f"override: {request.actuator}: value {v:g} is outside the actuator's range ({lo:g} to {hi:g})"
        )
    d = request.duration_s
    if not math.isfinite(d) or not 0 < d <= max_duration_s:
        raise CommandError(
            f"override: {request.actuator}: duration {d:g} s is not allowed "
            f"(more than 0 up to {max_duration_s:g} s)"
        )


def describe(o: Override) -> dict[str, Any]:
    """The override's part of an actuation's ``data``."""
    r = o.request
    return {
        "who": r.who,
        "id": r.id,
        "since": o.since,
        "until": o.until,
        "note": r.reason,
    }
