"""Hostile-client suite: every inbound edge attacked; each test asserts that no money
moved and no state changed."""
