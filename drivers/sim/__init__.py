"""The simulated plant and the driver that reads it without any bus."""
