"""In CI a test that skips for want of a distribution program ("needs ...") fails the
run; elsewhere it skips, and other skips stay skips (tests/conftest.py)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SKIPPING = """
import pytest

def test_needs_a_program():
    pytest.skip("needs pgbouncer (the distribution's package)")

def test_skips_for_another_reason():
    pytest.skip("not on this platform")
"""


@pytest.fixture
def suite(pytester):
    pytester.makepyfile(SKIPPING)
    return pytester


def run(suite):
    return suite.runpytest("-p", "tests.support.ci_skips", "-p", "no:cacheprovider")


def test_in_ci_a_needs_skip_fails_and_other_skips_stay(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = run(suite)
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*skipped in CI, where it must run*needs pgbouncer*"])


def test_outside_ci_both_skip(suite, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = run(suite)
    result.assert_outcomes(skipped=2)
