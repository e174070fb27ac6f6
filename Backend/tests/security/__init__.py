"""Hostile-client suite: every inbound edge attacked; each test asserts no money moved
and no state changed."""
