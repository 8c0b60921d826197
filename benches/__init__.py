"""pytest-benchmark micro-benchmarks of the native core (see README.md)."""
