"""Hardware access for edgetwin: buses, device drivers and their emulations."""
