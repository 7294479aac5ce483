"""Emulated I2C chips that answer at the register level, and the bus they sit on."""
