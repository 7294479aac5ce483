"""Load a TOML site configuration into a validated ``Config``.

Checking runs in three passes: each key's type and range, then the
references between sections (a point's device, an actuator's device), then
the whole set (duplicates, periods the device allows). Every problem is
reported, each on one line that names the file and the key path.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent.config.checker import Problems, Table
from agent.config.control import check_control, parse_envelope
from agent.config.schema import (
    ActuatorConfig,
    AgentConfig,
    Config,
    DeviceConfig,
    PointConfig,
    SiteConfig,
    StoreConfig,
)
from agent.config.sections import parse_control, parse_model, parse_twin, parse_uplink
from agent.config.twin import twin_problems
from agent.errors import ConfigError
from drivers.base import DriverKind
from drivers.registry import kinds

DEFAULT_PATH = Path("/etc/edgetwin/edgetwin.toml")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def load_config(path: str | Path) -> Config:
    """Read and validate the file at ``path``.

    Raises ``ConfigError`` listing every problem, or naming the file when it
    cannot be read.
    """
    return parse_config(load_text(path), str(path))


def load_text(path: str | Path) -> str:
    """The text of the file at ``path``; ``ConfigError`` naming it when unreadable."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None


def parse_config(text: str, source: str = "<config>") -> Config:
    """Validate TOML ``text``; ``source`` names it in messages."""
    data = _toml(text, source)
    cfg, problems = _check(data, source)
    if problems:
        raise ConfigError(problems.lines)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return replace(cfg, text_hash=digest)


def load_config_lenient(path: str | Path) -> tuple[Config | None, list[str]]:
    """Read the file at ``path`` keeping what is valid despite its problems.

    For the fail-safe path, which must act on a broken configuration: the
    configuration returned holds only the devices, and the actuators on
    them, whose own settings have no problem (None when the file cannot be
    read or parsed); the list holds every problem, one line each.
    """
    try:
        return parse_config_lenient(load_text(path), str(path))
    except ConfigError as exc:
        return None, exc.problems


def parse_config_lenient(text: str, source: str) -> tuple[Config | None, list[str]]:
    """``load_config_lenient`` for TOML ``text``."""
    try:
        data = _toml(text, source)
    except ConfigError as exc:
        return None, exc.problems
    cfg, problems = _check(data, source)
    bad = _flawed(problems, source, data, "devices")
    devices = tuple(d for d in cfg.devices if d.name not in bad)
    ok = {d.name for d in devices}
    flawed_acts = _flawed(problems, source, data, "actuators")
    actuators = tuple(
        a for a in cfg.actuators if a.device in ok and a.name not in flawed_acts
    )
    points = tuple(p for p in cfg.points if p.device in ok)
    fixed = replace(cfg, devices=devices, points=points, actuators=actuators)
    return fixed, problems.lines


def _flawed(
    problems: Problems, source: str, data: dict[str, Any], section: str
) -> set[str]:
    """Names of the ``section`` entries that a problem line points into."""
    tables = data.get(section)
    if not isinstance(tables, list):
        return set()
    flawed = set()
    for i, t in enumerate(tables):
        key = f"{source}: {section}[{i}]"
        if isinstance(t, dict) and any(
            line.startswith((key + ".", key + ":")) for line in problems.lines
        ):
            flawed.add(str(t.get("name")))
    return flawed


def _toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: not valid TOML: {exc}"]) from None


def _check(data: dict[str, Any], source: str) -> tuple[Config, Problems]:
    problems = Problems(source)
    cfg = _build(Table(data, "", problems), problems, source)
    check_control(cfg, problems)
    for line in twin_problems(
        cfg.twin, (p.name for p in cfg.points), (a.name for a in cfg.actuators)
    ):
        problems.lines.append(f"{source}: {line}")
    return cfg, problems


def _build(root: Table, problems: Problems, source: str) -> Config:
    known = kinds()

    # Sections that stand alone.
    site = _site(root.table("site"))
    if not root.has("site") and root.table("uplink").raw("enabled") is True:
        problems.add(
            "site",
            "is required with uplink.enabled (site and device name the MQTT "
            "topics; the built-in demo-site/cabinet-01 would mix sites up)",
        )
    agent = _agent(root.table("agent"))
    store = _store(root.table("store"))
    twin = parse_twin(root.table("twin"))
    model = parse_model(root.table("model"))
    control = parse_control(root.table("control"))
    uplink = parse_uplink(root.table("uplink"))

    # Devices, then what refers to them.
    device_tables = root.tables("devices")
    point_tables = root.tables("points")
    actuator_tables = root.tables("actuators")
    devices = [_device(t, known) for t in device_tables]
    by_name = {d.name: d for d in devices if d is not None}
    points = [_point(t, by_name, known) for t in point_tables]
    actuators = [_actuator(t, by_name, known) for t in actuator_tables]
    root.finish()

    # Whole-file checks, on the names as written.
    _unique(problems, "devices", _names(device_tables))
    _unique(problems, "points", _names(point_tables), also=_names(actuator_tables))
    _unique(problems, "actuators", _names(actuator_tables))
    return Config(
        source=source,
        site=site,
        agent=agent,
        devices=tuple(d for d in devices if d is not None),
        points=tuple(p for p in points if p is not None),
        actuators=tuple(a for a in actuators if a is not None),
        store=store,
        twin=twin,
        model=model,
        control=control,
        uplink=uplink,
    )


def _site(t: Table) -> SiteConfig:
    site = t.str("site", SiteConfig.site)
    device = t.str("device", SiteConfig.device)
    for key, value in (("site", site), ("device", device)):
        if not ID_RE.match(value):
            t.error(
                key,
                f"{value!r} is not allowed (letters, digits, '_', '.', '-'; up to 64)",
            )
    cfg = SiteConfig(site=site, device=device, description=t.str("description"))
    t.finish()
    return cfg


def _agent(t: Table) -> AgentConfig:
    cfg = AgentConfig(
        state_dir=t.str("state_dir", AgentConfig.state_dir),
        cycle_s=t.number("cycle_s", AgentConfig.cycle_s, min=0.001, max=10, unit="s"),
    )
    t.finish()
    return cfg


def _store(t: Table) -> StoreConfig:
    cfg = StoreConfig(
        path=t.str("path", StoreConfig.path),
        commit_interval_s=t.number(
            "commit_interval_s",
            StoreConfig.commit_interval_s,
            min=0,
            max=3600,
            unit="s",
        ),
        max_size_mb=t.number(
            "max_size_mb", StoreConfig.max_size_mb, min=1, max=1e6, unit="MB"
        ),
        max_age_days=t.number(
            "max_age_days", StoreConfig.max_age_days, min=0.001, max=3650, unit="days"
        ),
        retention_interval_s=t.number(
            "retention_interval_s",
            StoreConfig.retention_interval_s,
            min=1,
            max=86400,
            unit="s",
        ),
    )
    t.finish()
    return cfg


def _name(t: Table, required: bool = True) -> str:
    name = t.str("name", required=required)
    if name and not NAME_RE.match(name):
        t.error(
            "name",
            f"{name!r} is not a valid name (lower case letters, digits and '_', starting with a letter)",
        )
        return ""
    return name


def _device(t: Table, known: dict[str, DriverKind]) -> DeviceConfig | None:
    name = _name(t)
    kind_name = t.str("kind", required=True, choices=sorted(known))
    timeout_s = t.number("timeout_s", 1.0, min=0.001, max=60, unit="s")
    retries = t.int("retries", 1, min=0, max=10)
    t.raw("description")
    kind = known.get(kind_name)
    if kind is None:
        return None
    options = kind.parse_device(t)
    t.finish()
    if not name:
        return None
    return DeviceConfig(
        name=name, kind=kind_name, timeout_s=timeout_s, retries=retries, options=options
    )


def _device_ref(
    t: Table, devices: dict[str, DeviceConfig], known: dict[str, DriverKind]
) -> tuple[DeviceConfig | None, DriverKind | None]:
    ref = t.str("device", required=True)
    if not ref:
        return None, None
    device = devices.get(ref)
    if device is None:
        allowed = ", ".join(sorted(devices)) or "none are configured"
        t.error("device", f"{ref!r} is not a configured device (known: {allowed})")
        return None, None
    return device, known[device.kind]


def _point(
    t: Table, devices: dict[str, DeviceConfig], known: dict[str, DriverKind]
) -> PointConfig | None:
    name = _name(t)
    device, kind = _device_ref(t, devices, known)
    unit = t.str("unit")
    period_s = t.number("period_s", 1.0, min=0.001, max=86400, unit="s")
    scale = t.number("scale", 1.0)
    offset = t.number("offset", 0.0)
    valid_min = t.number("valid_min", float("-inf"))
    valid_max = t.number("valid_max", float("inf"))
    description = t.str("description")
    if valid_min >= valid_max:
        t.error("valid_max", f"{valid_max:g} must be above valid_min {valid_min:g}")
    if scale == 0:
        t.error("scale", "0 would make every reading the offset (use a non-zero scale)")
    if device is None or kind is None:
        return None
    if period_s < kind.min_period_s:
        t.error(
            "period_s",
            f"{period_s:g} s is below the {kind.min_period_s:g} s that device "
            f"{device.name!r} ({device.kind}) allows",
        )
    address = kind.parse_point(t, device)
    t.finish()
    if not name:
        return None
    return PointConfig(
        name=name,
        device=device.name,
        address=address,
        unit=unit,
        period_s=period_s,
        scale=scale,
        offset=offset,
        valid_min=valid_min,
        valid_max=valid_max,
        description=description,
    )


def _actuator(
    t: Table, devices: dict[str, DeviceConfig], known: dict[str, DriverKind]
) -> ActuatorConfig | None:
    name = _name(t)
    device, kind = _device_ref(t, devices, known)
    akind = t.str("kind", "binary", choices=("binary", "analog"))
    unit = t.str("unit")
    lo = t.number("min", 0.0)
    hi = t.number("max", 1.0)
    safe = t.number("safe_value", lo)
    description = t.str("description")
    if lo >= hi:
        t.error("max", f"{hi:g} must be above min {lo:g}")
    elif not lo <= safe <= hi:
        t.error(
            "safe_value", f"{safe:g} is outside the actuator's range ({lo:g} to {hi:g})"
        )
    if device is None or kind is None:
        return None
    address = kind.parse_actuator(t, device)
    envelope = (
        parse_envelope(t.table("envelope"), lo, hi) if t.has("envelope") else None
    )
    t.finish()
    if not name:
        return None
    return ActuatorConfig(
        name=name,
        device=device.name,
        address=address,
        kind="analog" if akind == "analog" else "binary",
        unit=unit,
        min=lo,
        max=hi,
        safe_value=safe,
        envelope=envelope,
        description=description,
    )


def _names(tables: list[Table]) -> list[str | None]:
    return [
        t.data.get("name") if isinstance(t.data.get("name"), str) else None
        for t in tables
    ]


def _unique(
    problems: Problems,
    section: str,
    names: list[str | None],
    also: list[str | None] | None = None,
) -> None:
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if not name:
            continue
        if name in first:
            problems.add(
                f"{section}[{i}].name",
                f"{name!r} is defined twice (first at {section}[{first[name]}])",
            )
        else:
            first[name] = i
    if also:
        for i, name in enumerate(also):
            if name and name in first:
                problems.add(
                    f"actuators[{i}].name",
                    f"{name!r} is already the name of points[{first[name]}]",
                )
