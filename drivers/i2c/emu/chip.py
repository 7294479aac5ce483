"""What every emulated I2C chip shares: wire-level hooks and injected faults.

An emulated chip sees the bytes of each bus transaction, as the silicon
would: ``on_write`` gets the bytes written after the address, ``on_read``
returns the bytes the chip clocks out. A chip can be told to stop
acknowledging (errno 121 on the next N transactions, or until recovered),
which is how the tests make a bus glitch or a chip that fell off the bus.
"""

from __future__ import annotations

import errno
import os


def no_ack(address: int) -> OSError:
    """Return the error a Linux adapter raises when ``address`` does not acknowledge."""
    return OSError(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO), f"0x{address:02x}")


class EmulatedChip:
    """Base of the emulated chips: fault injection and the wire-level hooks."""

    #: Short chip name, for messages.
    chip = "chip"

    def __init__(self) -> None:
        self._fail_next = 0
        self._fail_always = False

    def fail(self, transactions: int | None = 1) -> None:
        """Refuse the next ``transactions`` transactions, or all of them with None."""
        if transactions is None:
            self._fail_always = True
        else:
            self._fail_next += transactions

    def recover(self) -> None:
        """Acknowledge again from the next transaction on."""
        self._fail_next = 0
        self._fail_always = False

    def begin(self, address: int) -> None:
        """Start one transaction; raise errno 121 if the chip is told to fail."""
        if self._fail_always:
            raise no_ack(address)
        if self._fail_next > 0:
            self._fail_next -= 1
            raise no_ack(address)

    def on_write(self, data: bytes) -> None:
        """Take the bytes the master wrote after the address byte."""
        raise NotImplementedError

    def on_read(self, length: int) -> bytes:
        """Return ``length`` bytes for the master to read."""
        raise NotImplementedError


class WordRegisterChip(EmulatedChip):
    """A chip with a register pointer and 16-bit registers sent MSB first.

    The first byte of a write sets the pointer; two more bytes write the
    register. A read returns the register under the pointer.
    """

    def __init__(self) -> None:
        super().__init__()
        self.pointer = 0

    def on_write(self, data: bytes) -> None:
        if not data:
            return
        self.pointer = data[0]
        if len(data) >= 3:
            self.write_register(self.pointer, (data[1] << 8) | data[2])

    def on_read(self, length: int) -> bytes:
        value = self.read_register(self.pointer) & 0xFFFF
        word = bytes((value >> 8, value & 0xFF))
        return (word * ((length + 1) // 2))[:length]

    def read_register(self, register: int) -> int:
        """Return the 16-bit register ``register``."""
        raise NotImplementedError

    def write_register(self, register: int, value: int) -> None:
        """Write the 16-bit ``value`` to ``register``."""
        raise NotImplementedError
