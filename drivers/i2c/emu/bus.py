"""An emulated I2C bus: routes each transaction by address to an emulated chip.

It offers the same calls as ``smbus2.SMBus`` that the drivers use, so the
driver code is the same on a board and in the demo. An address with no chip
raises ``OSError`` errno 121, as a real adapter does. Each call is one
transaction and is counted per address, so that tests can check how many
transactions a reading costs.
"""

from __future__ import annotations

import ctypes
import threading
from collections import Counter
from collections.abc import Sequence

from smbus2 import i2c_msg
from smbus2.smbus2 import I2C_M_RD

from drivers.i2c.emu.chip import EmulatedChip, no_ack


class EmulatedBus:
    """A bus with emulated chips attached at their addresses."""

    def __init__(self, chips: dict[int, EmulatedChip] | None = None) -> None:
        self.chips: dict[int, EmulatedChip] = dict(chips or {})
        self.transactions: Counter[int] = Counter()
        self._lock = threading.RLock()

    def attach(self, address: int, chip: EmulatedChip) -> None:
        """Put ``chip`` on the bus at ``address``; raise ValueError if taken."""
        with self._lock:
            if address in self.chips:
                raise ValueError(
                    f"I2C address 0x{address:02x} is already taken by "
                    f"{self.chips[address].chip}"
                )
            self.chips[address] = chip

    def detach(self, address: int) -> None:
        """Take the chip at ``address`` off the bus, if there is one."""
        with self._lock:
            self.chips.pop(address, None)

    def _begin(self, address: int) -> EmulatedChip:
        self.transactions[address] += 1
        chip = self.chips.get(address)
        if chip is None:
            raise no_ack(address)
        chip.begin(address)
        return chip

    # -- the smbus2.SMBus calls -------------------------------------------

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        with self._lock:
            chip = self._begin(i2c_addr)
            chip.on_write(bytes((register,)))
            return list(chip.on_read(length))

    def write_i2c_block_data(
        self,
        i2c_addr: int,
        register: int,
        data: Sequence[int],
        force: bool | None = None,
    ) -> None:
        with self._lock:
            self._begin(i2c_addr).on_write(bytes((register, *data)))

    def read_byte_data(
        self, i2c_addr: int, register: int, force: bool | None = None
    ) -> int:
        return self.read_i2c_block_data(i2c_addr, register, 1)[0]

    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        self.write_i2c_block_data(i2c_addr, register, [value])

    def write_quick(self, i2c_addr: int, force: bool | None = None) -> None:
        with self._lock:
            self._begin(i2c_addr)

    def read_byte(self, i2c_addr: int, force: bool | None = None) -> int:
        with self._lock:
            return self._begin(i2c_addr).on_read(1)[0]

    def i2c_rdwr(self, *i2c_msgs: i2c_msg) -> None:
        with self._lock:
            started: set[int] = set()
            for msg in i2c_msgs:
                if msg.addr in started:
                    chip = self.chips[msg.addr]
                else:
                    chip = self._begin(msg.addr)
                    started.add(msg.addr)
                if msg.flags & I2C_M_RD:
                    data = chip.on_read(msg.len)
                    ctypes.memmove(msg.buf, data, msg.len)
                else:
                    chip.on_write(bytes(msg))

    def close(self) -> None:
        """Nothing to release; present so the bus works like ``SMBus``."""

    def __enter__(self) -> EmulatedBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
