"""Read an untrusted TOML table into typed values, collecting every problem."""

from __future__ import annotations

import builtins
import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

_MISSING: Any = object()


class Problems:
    """Collects one-line problems, each naming the file and the key path."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{self.source}: {path}: {message}")

    def __bool__(self) -> bool:
        return bool(self.lines)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


class Table:
    """A view of one TOML table that reads keys and remembers which were read.

    Every getter returns a usable default when the value is missing or wrong,
    so that checking goes on and reports every problem in one pass. Call
    ``finish()`` once all known keys were read, to report unknown keys.
    """

    def __init__(self, data: Any, path: builtins.str, problems: Problems) -> None:
        self.path = path
        self.problems = problems
        if not isinstance(data, Mapping):
            problems.add(path, f"expected a table, got {_kind(data)} {_show(data)}")
            data = {}
        self.data: Mapping[builtins.str, Any] = data
        self.read: set[builtins.str] = set()

    def key(self, name: builtins.str) -> builtins.str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: builtins.str) -> builtins.bool:
        return name in self.data

    def raw(self, name: builtins.str, default: Any = None) -> Any:
        self.read.add(name)
        return self.data.get(name, default)

    def error(self, name: builtins.str, message: builtins.str) -> None:
        self.problems.add(self.key(name), message)

    def _get(self, name: builtins.str, default: Any, required: builtins.bool) -> Any:
        self.read.add(name)
        if name not in self.data:
            if required:
                self.problems.add(self.key(name), "is required")
            return _MISSING
        return self.data[name]

    def str(
        self,
        name: builtins.str,
        default: builtins.str = "",
        *,
        required: builtins.bool = False,
        choices: Iterable[builtins.str] | None = None,
    ) -> builtins.str:
        value = self._get(name, default, required)
        if value is _MISSING:
            return default
        if not isinstance(value, builtins.str):
            self.error(name, f"expected a string, got {_kind(value)} {_show(value)}")
            return default
        if choices is not None:
            allowed = list(choices)
            if value not in allowed:
                self.error(name, f"{_show(value)} is not one of {', '.join(allowed)}")
                return default
        return value

    def bool(self, name: builtins.str, default: builtins.bool = False) -> builtins.bool:
        value = self._get(name, default, False)
        if value is _MISSING:
            return default
        if not isinstance(value, builtins.bool):
            self.error(
                name, f"expected true or false, got {_kind(value)} {_show(value)}"
            )
            return default
        return value

    def number(
        self,
        name: builtins.str,
        default: float,
        *,
        required: builtins.bool = False,
        min: float | None = None,
        max: float | None = None,
        integer: builtins.bool = False,
        unit: builtins.str = "",
    ) -> float:
        value = self._get(name, default, required)
        if value is _MISSING:
            return default
        what = "an integer" if integer else "a number"
        ok_type = (
            isinstance(value, builtins.int)
            if integer
            else isinstance(value, builtins.int | float)
        )
        if isinstance(value, builtins.bool) or not ok_type:
            self.error(name, f"expected {what}, got {_kind(value)} {_show(value)}")
            return default
        if isinstance(value, float) and not math.isfinite(value):
            self.error(name, f"{_show(value)} is not a finite number")
            return default
        if (min is not None and value < min) or (max is not None and value > max):
            self.error(
                name, f"{_show(value)} is out of range ({_range(min, max, unit)})"
            )
            return default
        return value

    def int(
        self, name: builtins.str, default: builtins.int, **kwargs: Any
    ) -> builtins.int:
        return int(self.number(name, default, integer=True, **kwargs))

    def table(self, name: builtins.str) -> Table:
        value = self._get(name, {}, False)
        return Table({} if value is _MISSING else value, self.key(name), self.problems)

    def tables(self, name: builtins.str) -> list[Table]:
        """Read an array of tables (``[[name]]``)."""
        value = self._get(name, [], False)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            self.error(name, f"expected an array of tables, got {_kind(value)}")
            return []
        return [
            Table(item, f"{self.key(name)}[{i}]", self.problems)
            for i, item in enumerate(value)
        ]

    def strs(
        self, name: builtins.str, default: tuple[builtins.str, ...] = ()
    ) -> tuple[builtins.str, ...]:
        value = self._get(name, default, False)
        if value is _MISSING:
            return default
        if not isinstance(value, list) or not all(
            isinstance(v, builtins.str) for v in value
        ):
            self.error(name, f"expected an array of strings, got {_show(value)}")
            return default
        return tuple(value)

    def finish(self, *also_allowed: builtins.str) -> None:
        """Report keys that no getter asked for."""
        allowed = self.read | set(also_allowed)
        for name in self.data:
            if name not in allowed:
                self.problems.add(
                    self.key(name),
                    f"unknown key (allowed: {', '.join(sorted(allowed))})",
                )


def _range(lo: float | None, hi: float | None, unit: str) -> str:
    u = f" {unit}" if unit else ""
    if lo is not None and hi is not None:
        return f"allowed {lo:g} to {hi:g}{u}"
    if lo is not None:
        return f"allowed {lo:g}{u} or more"
    return f"allowed up to {hi:g}{u}"
