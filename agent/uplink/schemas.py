"""The uplink's JSON Schemas, loaded from ``agent/uplink/schemas/*.json``.

Upstream payloads (status, summary, event, result) share the envelope
schema; commands and their bodies are checked before anything is done.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema
    from referencing import Registry

# The kind of upstream message a topic's last part names.
TOPIC_KINDS = {"status": "status", "summary": "summary", "event": "event"}


def _load(name: str) -> dict[str, Any]:
    text = files("agent.uplink").joinpath("schemas", f"{name}.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _registry() -> Registry:
    from referencing import Registry, Resource  # noqa: PLC0415 (see validator)

    names = [
        p.name.removesuffix(".json")
        for p in files("agent.uplink").joinpath("schemas").iterdir()
        if p.name.endswith(".json")
    ]
    resources = [
        (f"urn:edgetwin:uplink:{n}", Resource.from_contents(_load(n))) for n in names
    ]
    return Registry().with_resources(resources)


@cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    """Return the validator of schema ``name`` (``summary``, ``cmd_ping`` ...)."""
    # NOTE: jsonschema is imported on first use (PLC0415): it costs about
    # 8 MB of resident memory that an agent which never receives a command
    # does not need.
    import jsonschema  # noqa: PLC0415

    return jsonschema.Draft202012Validator(_load(name), registry=_registry())


def has_schema(name: str) -> bool:
    return files("agent.uplink").joinpath("schemas", f"{name}.json").is_file()


def problem(name: str, data: Any) -> str | None:
    """Return the first problem of ``data`` against schema ``name``, or None."""
    errors = sorted(validator(name).iter_errors(data), key=lambda e: list(e.path))
    if not errors:
        return None
    err = errors[0]
    where = "/".join(str(p) for p in err.path) or "(top)"
    return f"{where}: {err.message}"


def kind_of_topic(topic: str) -> str | None:
    """Name the schema of an upstream topic, or None for a topic that is not upstream."""
    parts = topic.split("/")
    if len(parts) >= 2 and parts[-1] == "result" and "cmd" in parts:
        return "result"
    return TOPIC_KINDS.get(parts[-1])
