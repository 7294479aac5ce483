"""Configuration of the twin: its frozen dataclasses and its parser.

Two kinds of twin exist besides ``none``::

    [twin]
    kind = "thermal"              # a lumped thermal template
    save_interval_s = 300         # how often the learned state is persisted

    [twin.thermal]
    temperature = "cabinet_temp_c"   # point: the modelled temperature
    ambient = "ambient_temp_c"       # point: the air around the asset
    power = "power_w"                # point: electrical power, load + heater + fan
    heater = "heater"                # actuator (binary)
    fan = "fan"                      # actuator (0..1)

    [twin.linear]
    outputs = ["cabinet_temp_c"]              # points the model predicts
    inputs = ["heater", "ambient_temp_c"]     # actuators or points driving them
    step_s = 10
    learn_h = 24

The names are checked against the points and actuators by
``twin_problems`` once the whole file is read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from agent.config.checker import Table

TWIN_KINDS = ("none", "thermal", "linear")


@dataclass(frozen=True)
class ThermalConfig:
    """The thermal template: which points and actuators it maps, and first guesses.

    The guesses (``heat_capacity_j_k`` and the rest) only seed the online
    estimation; the twin learns the asset's values from its readings.
    """

    temperature: str = "cabinet_temp_c"
    ambient: str = "ambient_temp_c"
    power: str = "power_w"
    heater: str = ""
    fan: str = ""
    heat_capacity_j_k: float = 10_000.0
    ua_w_k: float = 10.0
    fan_conductance_w_k: float = 10.0
    heater_w: float = 100.0
    temperature_noise_c: float = 0.1
    power_noise_w: float = 1.0
    window_s: float = 900.0
    drift_pct_per_h: float = 2.0
    stale_s: float = 60.0


@dataclass(frozen=True)
class LinearConfig:
    """The identified linear model: outputs, inputs, step and learning period."""

    outputs: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    step_s: float = 10.0
    learn_h: float = 24.0
    measurement_noise: float = 0.0
    stale_s: float = 60.0


@dataclass(frozen=True)
class TwinConfig:
    """The digital twin; ``kind = "none"`` passes readings through."""

    kind: str = "none"
    save_interval_s: float = 300.0
    thermal: ThermalConfig = field(default_factory=ThermalConfig)
    linear: LinearConfig = field(default_factory=LinearConfig)


def parse_twin(t: Table) -> TwinConfig:
    """Read ``[twin]`` and the table of its kind."""
    kind = t.str("kind", "none", choices=TWIN_KINDS)
    save_interval_s = t.number(
        "save_interval_s", TwinConfig.save_interval_s, min=10, max=86400, unit="s"
    )
    thermal = _thermal(t.table("thermal")) if t.has("thermal") else ThermalConfig()
    linear = _linear(t.table("linear")) if t.has("linear") else LinearConfig()
    if kind == "linear" and not linear.outputs:
        t.error(
            "linear.outputs",
            "is required when kind is 'linear' (name 1 or more points)",
        )
    if kind == "thermal" and not t.has("thermal"):
        t.error("thermal", "is required when kind is 'thermal'")
    t.finish()
    return TwinConfig(
        kind=kind, save_interval_s=save_interval_s, thermal=thermal, linear=linear
    )


def _thermal(t: Table) -> ThermalConfig:
    d = ThermalConfig
    cfg = ThermalConfig(
        temperature=t.str("temperature", required=True),
        ambient=t.str("ambient", required=True),
        power=t.str("power", required=True),
        heater=t.str("heater", ""),
        fan=t.str("fan", ""),
        heat_capacity_j_k=t.number(
            "heat_capacity_j_k", d.heat_capacity_j_k, min=1, max=1e9, unit="J/K"
        ),
        ua_w_k=t.number("ua_w_k", d.ua_w_k, min=0.001, max=1e6, unit="W/K"),
        fan_conductance_w_k=t.number(
            "fan_conductance_w_k", d.fan_conductance_w_k, min=0.001, max=1e6, unit="W/K"
        ),
        heater_w=t.number("heater_w", d.heater_w, min=0.001, max=1e6, unit="W"),
        temperature_noise_c=t.number(
            "temperature_noise_c", d.temperature_noise_c, min=1e-4, max=10, unit="K"
        ),
        power_noise_w=t.number(
            "power_noise_w", d.power_noise_w, min=1e-4, max=1e4, unit="W"
        ),
        window_s=t.number("window_s", d.window_s, min=10, max=86400, unit="s"),
        drift_pct_per_h=t.number(
            "drift_pct_per_h", d.drift_pct_per_h, min=0, max=100, unit="%/h"
        ),
        stale_s=t.number("stale_s", d.stale_s, min=1, max=86400, unit="s"),
    )
    t.finish()
    return cfg


def _linear(t: Table) -> LinearConfig:
    d = LinearConfig
    cfg = LinearConfig(
        outputs=t.strs("outputs"),
        inputs=t.strs("inputs"),
        step_s=t.number("step_s", d.step_s, min=0.01, max=86400, unit="s"),
        learn_h=t.number("learn_h", d.learn_h, min=0.01, max=24 * 365, unit="h"),
        measurement_noise=t.number("measurement_noise", d.measurement_noise, min=0),
        stale_s=t.number("stale_s", d.stale_s, min=1, max=86400, unit="s"),
    )
    t.finish()
    return cfg


def twin_problems(
    twin: TwinConfig, points: Iterable[str], actuators: Iterable[str]
) -> list[str]:
    """Return one line per name in ``[twin]`` that is not a point or actuator."""
    point_names, actuator_names = set(points), set(actuators)
    problems: list[str] = []

    def need(key: str, name: str, allowed: set[str], what: str) -> None:
        if name not in allowed:
            known = ", ".join(sorted(allowed)) or f"no {what}s are configured"
            problems.append(
                f"twin.{key}: {name!r} is not a configured {what} (known: {known})"
            )

    if twin.kind == "thermal":
        th = twin.thermal
        need("thermal.temperature", th.temperature, point_names, "point")
        need("thermal.ambient", th.ambient, point_names, "point")
        need("thermal.power", th.power, point_names, "point")
        for key in ("heater", "fan"):
            name = getattr(th, key)
            if name:
                need(f"thermal.{key}", name, actuator_names, "actuator")
    elif twin.kind == "linear":
        for i, name in enumerate(twin.linear.outputs):
            need(f"linear.outputs[{i}]", name, point_names, "point")
        either = point_names | actuator_names
        for i, name in enumerate(twin.linear.inputs):
            need(f"linear.inputs[{i}]", name, either, "point or actuator")
    return problems
