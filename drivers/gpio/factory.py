"""Choose and make the gpiozero pin factory for one GPIO device.

The factory comes from the device's ``pin_factory`` key, else from the
``GPIOZERO_PIN_FACTORY`` environment variable, else the first of lgpio
(the only choice on a Pi 5), RPi.GPIO and gpiozero's native backend that
works. ``mock`` gives gpiozero's mock pins (PWM-capable), for running
without hardware. Each device gets its own factory object, passed to its
gpiozero devices with ``pin_factory=``; the class-wide default is never set.
"""

from __future__ import annotations

import importlib
import os
import warnings
from typing import TYPE_CHECKING

from agent.errors import DeviceError

if TYPE_CHECKING:
    from gpiozero import Factory

FACTORIES = {
    "lgpio": "gpiozero.pins.lgpio:LGPIOFactory",
    "rpigpio": "gpiozero.pins.rpigpio:RPiGPIOFactory",
    "native": "gpiozero.pins.native:NativeFactory",
    "pigpio": "gpiozero.pins.pigpio:PiGPIOFactory",
}
NAMES = ("mock", *FACTORIES)
AUTO_ORDER = ("lgpio", "rpigpio", "native")
ENV = "GPIOZERO_PIN_FACTORY"

HINT = (
    "add the user to the gpio group (sudo usermod -aG gpio $USER, then log in "
    'again), or set pin_factory = "mock" on the device to run without hardware'
)


def _load(name: str) -> Factory:
    if name == "mock":
        from gpiozero.pins.mock import MockFactory, MockPWMPin  # noqa: PLC0415

        return MockFactory(pin_class=MockPWMPin)
    module_name, cls_name = FACTORIES[name].split(":")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        factory: Factory = getattr(importlib.import_module(module_name), cls_name)()
    return factory


def make_factory(device: str, name: str = "") -> Factory:
    """Return a new pin factory for GPIO device ``device``.

    ``name`` is the configured ``pin_factory`` ("" for the environment or
    the automatic choice). Raises ``DeviceError`` with one line saying what
    to do when no factory can reach the GPIO chip.
    """
    chosen = name or os.environ.get(ENV, "").strip().lower()
    if chosen and chosen not in NAMES:
        raise DeviceError(
            f"GPIO device {device!r}: pin factory {chosen!r} (from {ENV}) is not "
            f"one of {', '.join(NAMES)}"
        )
    tried = (chosen,) if chosen else AUTO_ORDER
    errors = []
    for candidate in tried:
        try:
            return _load(candidate)
        except Exception as exc:  # every backend fails in its own way
            errors.append(f"{candidate}: {exc}")
    raise DeviceError(
        f"GPIO device {device!r}: no GPIO access ({'; '.join(errors)}); {HINT}"
    )
