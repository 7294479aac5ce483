"""The ``edgetwin`` command line: a thin layer over the library."""
