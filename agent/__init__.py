"""edgetwin: an edge gateway agent that keeps a digital twin of its asset."""

__version__ = "0.1.0"
