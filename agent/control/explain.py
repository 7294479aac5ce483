"""Say in one or two plain sentences why an actuator holds the value it holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agent.config.schema import ActuatorConfig
from agent.store.store import Actuation

RULES = {
    "range": "its allowed range",
    "binary": "an on/off output",
    "slew": "the slew limit",
    "min_on": "the minimum on time",
    "min_off": "the minimum off time",
    "switch_cap": "the cap on switches per hour",
    "interlock": "an interlock",
    "stale_input": "the stale-data guard",
    "bad_input": "the stale-data guard",
    "invalid": "a value that is not a number",
    "readback": "the read-back",
}


def fmt_value(value: float, actuator: ActuatorConfig | None) -> str:
    """Show an output value in its unit; on/off outputs as ``on`` or ``off``.

    NOTE: an output in ``%`` whose range ends at 1 is a duty fraction and is
    shown in percent.
    """
    if actuator is None:
        return f"{value:g}"
    if actuator.kind == "binary":
        return "on" if value > actuator.min else "off"
    if actuator.unit == "%" and actuator.max <= 1:
        return f"{value * 100:.0f} %"
    return f"{value:g} {actuator.unit}".rstrip()


def _hm(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M")


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def explain(
    act: Actuation, actuator: ActuatorConfig | None = None, unit: str = ""
) -> str:
    """Return why ``act`` was written; ``unit`` is the unit of the policy's point."""
    d: dict[str, Any] = act.data
    value = fmt_value(act.value, actuator)
    verb = (
        f"switched {value}"
        if actuator is not None and actuator.kind == "binary"
        else f"set to {value}"
    )
    head = f"{act.actuator} {verb} at {_hm(act.ts)} UTC"
    u = f" {unit}" if unit else ""

    # Why: who or what asked.
    policy = d.get("policy")
    if act.source == "override":
        until = d.get("until")
        who = d.get("who", "unknown")
        tail = f" until {_hm(until)} UTC" if isinstance(until, int | float) else ""
        note = f" ({d['note']})" if d.get("note") else ""
        why = f"{head} by a manual override from {who}{tail}{note}."
    elif act.source == "override-end":
        why = f"{head}: the override by {d.get('who', 'unknown')} expired or was released."
    elif act.source in ("safe-state", "failsafe"):
        why = f"{head}, its fail-safe value: {act.reason}."
    elif policy == "predictive":
        why = f"{head} by the predictive policy: {_predictive(d, actuator, u)}."
    elif policy == "hysteresis":
        point, r = _input(d)
        state = d.get("state")
        limit = d.get("on_at") if state == "on" else d.get("off_at")
        cooling = d.get("on_at", 0) > d.get("off_at", 0)
        side = "above" if (state == "on") == cooling else "below"
        why = (
            f"{head} by the hysteresis policy: {point} read {r:.1f}{u}, "
            f"{side} the {limit:g}{u} switch-{state} threshold."
        )
    elif policy == "pid":
        point, r = _input(d)
        why = (
            f"{head} by the PID policy: {point} read {r:.1f}{u} against a "
            f"{d.get('setpoint', 0):g}{u} setpoint."
        )
    else:
        why = f"{head} by {act.source}: {act.reason}."

    # What the envelope changed.
    clamps = [c for c in d.get("clamps", []) if c.get("rule") != "readback"]
    if clamps:
        last = clamps[-1]
        rules = ", ".join(
            dict.fromkeys(RULES.get(c["rule"], c["rule"]) for c in clamps)
        )
        why += (
            f" The safety envelope turned the request of {fmt_value(act.requested, actuator)}"
            f" into {fmt_value(act.value, actuator)} ({rules}: {last['detail']})."
        )
    for c in d.get("clamps", []):
        if c.get("rule") == "readback":
            why += f" Warning: {c['detail']}."
    return why


def _input(d: dict[str, Any]) -> tuple[str, float]:
    inputs = d.get("inputs") or {}
    for point, r in inputs.items():
        return point, float(r.get("value") or 0.0)
    return "its point", 0.0


def _predictive(d: dict[str, Any], actuator: ActuatorConfig | None, u: str) -> str:
    f = d.get("forecast") or {}
    point = f.get("point", "the point")
    chosen = f.get("chosen") or {}
    rejected = f.get("rejected")
    horizon = _minutes(float(f.get("horizon_s", 0)))
    if chosen.get("excursion", 0) > 0:
        return (
            f"no setting keeps {point} inside {f.get('low'):g} to {f.get('high'):g}{u}; "
            f"this one comes closest, the twin forecast {chosen.get('peak', 0):.1f}{u} "
            f"in {_minutes(float(chosen.get('in_s', 0)))}"
        )
    if rejected:
        return (
            f"at {fmt_value(rejected['value'], actuator)} the twin forecast "
            f"{rejected['peak']:.1f}{u} in {_minutes(float(rejected['in_s']))} against a "
            f"{rejected['limit']:g}{u} limit"
        )
    return (
        f"the twin forecast {point} between {chosen.get('min', 0):.1f} and "
        f"{chosen.get('max', 0):.1f}{u} over {horizon}, inside "
        f"{f.get('low'):g} to {f.get('high'):g}{u}, at the cheapest setting"
    )
