"""Modbus device simulators: real framing on loopback TCP and on a pseudo-terminal."""

from drivers.modbus.sim.server import RtuSimServer, TcpSimServer
from drivers.modbus.sim.store import Faults, SimUnit

__all__ = ["Faults", "RtuSimServer", "SimUnit", "TcpSimServer"]
