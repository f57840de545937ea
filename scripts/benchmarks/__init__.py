"""The suites of scripts/bench.py, one file per kind of measurement."""
