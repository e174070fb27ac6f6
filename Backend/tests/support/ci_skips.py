"""A test that needs a program from the distribution's packages (PgBouncer, Chromium,
redis-server) skips with a reason starting "needs " where it is missing. CI installs them
(.ci/run), so there such a skip means a test that did not run: it fails instead
(tests/unit/test_ci_skip_rule.py runs this plugin on a small suite of its own)."""

from __future__ import annotations

import os

import pytest

NEEDS = "needs "


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.skipped and os.environ.get("CI") and call.when in ("setup", "call"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        if reason.removeprefix("Skipped: ").startswith(NEEDS):
            report.outcome = "failed"
            report.longrepr = f"skipped in CI, where it must run: {reason}"
    return report
