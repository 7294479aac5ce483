"""Load device profiles: named register maps shipped in ``drivers/profiles``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from drivers.modbus.addressing import TABLES
from drivers.modbus.codec import LAYOUTS, TYPES


@dataclass(frozen=True)
class Quantity:
    """One quantity of a profile: where it is and how it is encoded."""

    table: str
    address: int
    dtype: str
    layout: str
    unit: str = ""
    length: int = 1


def available() -> list[str]:
    """Return the names of the shipped profiles."""
    root = files("drivers.profiles")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


@cache
def load(name: str) -> dict[str, Quantity]:
    """Return the quantities of profile ``name``.

    Raises ``KeyError`` for an unknown profile and ``ValueError`` for a
    profile file that breaks its own format.
    """
    if name not in available():
        raise KeyError(name)
    text = files("drivers.profiles").joinpath(f"{name}.toml").read_text("utf-8")
    data = tomllib.loads(text)
    out: dict[str, Quantity] = {}
    for qname, q in data.get("quantities", {}).items():
        table = q.get("table", data.get("table", "holding"))
        dtype = q.get("type", data.get("type", "uint16"))
        layout = q.get("layout", data.get("layout", "ABCD"))
        if table not in TABLES or dtype not in TYPES or layout not in LAYOUTS:
            raise ValueError(
                f"profile {name}: quantity {qname}: bad table, type or layout"
            )
        out[qname] = Quantity(
            table=table,
            address=int(q["address"]),
            dtype=dtype,
            layout=layout,
            unit=q.get("unit", ""),
            length=int(q.get("length", 1)),
        )
    return out
