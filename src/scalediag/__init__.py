"""scalediag: measure why a small network does or does not learn."""

__version__ = "0.1.0"
