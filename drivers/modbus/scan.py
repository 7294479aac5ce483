"""Find the units that answer on a Modbus link.

Each unit is asked for one holding register (function 3, address 0). Any
reply counts as answering, an exception reply too (the unit is there but
has no such register); a malformed reply is listed with what was wrong,
since something on the line did answer. Silence within the timeout means
no unit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agent.errors import CommandError, DeviceTimeoutError
from drivers.modbus import frames
from drivers.modbus.link import Link

PROBE = frames.read_request(3, 0, 1)
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


@dataclass(frozen=True)
class Answer:
    """A unit that answered the probe, and how."""

    unit: int
    detail: str


def parse_units(text: str) -> list[int]:
    """Parse ``"1-247"``, ``"3"`` or ``"1,3,10-12"`` into sorted unit numbers.

    Raises ``CommandError`` naming the part that is not a unit or a range
    within 1 to 247.
    """
    units: set[int] = set()
    for part in text.split(","):
        m = _RANGE.match(part)
        lo = int(m.group(1)) if m else 0
        hi = int(m.group(2) or lo) if m else 0
        if not m or not 1 <= lo <= hi <= 247:
            raise CommandError(
                f"--units: {part.strip()!r} is not allowed "
                "(a unit or range within 1 to 247, such as 1-247 or 1,3,10-12)"
            )
        units.update(range(lo, hi + 1))
    return sorted(units)


def scan(
    link: Link,
    units: Iterable[int],
    timeout_s: float,
    progress: Callable[[int], None] = lambda unit: None,
) -> list[Answer]:
    """Probe each of ``units`` on ``link``; return those that answered.

    A link that cannot connect raises ``DeviceError`` at the first probe.
    """
    found = []
    for unit in units:
        progress(unit)
        try:
            with link.lock:
                reply = link.transact(unit, PROBE, timeout_s)
            values = frames.parse_reply(PROBE, reply)
        except DeviceTimeoutError:
            continue
        except frames.ExceptionReplyError as exc:
            found.append(Answer(unit, str(exc)))
        except frames.BadReplyError as exc:
            found.append(Answer(unit, f"malformed reply: {exc}"))
        else:
            found.append(Answer(unit, f"holding 0 = {values[0]} (0x{values[0]:04X})"))
    return found
