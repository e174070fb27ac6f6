"""Hostile-client suite: every inbound edge attacked.

Each test asserts that no money moved and no state changed.
"""
