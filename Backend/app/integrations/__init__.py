"""Adapters to the outside world, each behind a Protocol with a fake for unit tests."""
