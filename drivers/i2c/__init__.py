"""I2C sensors on smbus2: chip drivers, the device kinds, and their emulations."""
