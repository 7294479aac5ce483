"""The I2C bus interface the chip drivers use, and how a real bus is opened.

Drivers talk to an ``I2CBus``: the subset of ``smbus2.SMBus`` they need.
On a board that is ``smbus2.SMBus(n)`` on ``/dev/i2c-n``; in the demo and the
tests it is ``drivers.i2c.emu.bus.EmulatedBus``, which answers with the bytes
an emulated chip would put on the wire. Either way a chip that does not
acknowledge raises ``OSError`` with errno 121 (``EREMOTEIO``).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import Protocol

from smbus2 import SMBus, i2c_msg

from agent.errors import DeviceError

# Errno values a Linux I2C adapter returns when nobody acknowledges an address.
NO_ACK_ERRNOS = frozenset({errno.EREMOTEIO, errno.ENXIO, errno.EIO})


class I2CBus(Protocol):
    """What the chip drivers need of an I2C bus (a subset of ``smbus2.SMBus``).

    Every call is one bus transaction (with a repeated start where the call
    writes a register pointer before reading).
    """

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]: ...

    def write_i2c_block_data(
        self,
        i2c_addr: int,
        register: int,
        data: Sequence[int],
        force: bool | None = None,
    ) -> None: ...

    def read_byte_data(
        self, i2c_addr: int, register: int, force: bool | None = None
    ) -> int: ...

    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None: ...

    def write_quick(self, i2c_addr: int, force: bool | None = None) -> None: ...

    def read_byte(self, i2c_addr: int, force: bool | None = None) -> int: ...

    def i2c_rdwr(self, *i2c_msgs: i2c_msg) -> None: ...

    def close(self) -> None: ...


def open_bus(bus: int) -> I2CBus:
    """Open ``/dev/i2c-{bus}``.

    Raises ``DeviceError`` with one line saying what to do when the bus does
    not exist (I2C not enabled) or the user may not open it.
    """
    path = f"/dev/i2c-{bus}"
    try:
        return SMBus(bus)
    except FileNotFoundError:
        raise DeviceError(
            f"{path} does not exist: enable I2C (raspi-config, Interface Options, "
            f"I2C) or check the bus number; on a machine without I2C use the "
            f"emulated bus (emulate = true, or --emulated)"
        ) from None
    except PermissionError:
        raise DeviceError(
            f"{path}: permission denied: add the user to the i2c group "
            f"(sudo usermod -aG i2c $USER) and log in again"
        ) from None
    except OSError as exc:
        raise DeviceError(f"{path}: cannot open: {exc}") from None


def is_no_ack(exc: OSError) -> bool:
    """Tell whether ``exc`` means that no chip acknowledged the address."""
    return exc.errno in NO_ACK_ERRNOS
