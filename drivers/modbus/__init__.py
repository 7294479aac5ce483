"""Modbus TCP and RTU devices described by a register map.

Addresses in the configuration are 0-based protocol addresses together with
a table (``coil``, ``discrete``, ``input``, ``holding``); the classic
notation is accepted as a string and converted: ``"40001"`` and
``"400001"`` are holding register 0, ``"30001"`` input register 0,
``"10001"`` discrete input 0 and ``"00001"`` coil 0.
"""
