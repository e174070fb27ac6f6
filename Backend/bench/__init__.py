"""Benchmarks: each starts its own servers and prints figures; none runs in the test suite."""
