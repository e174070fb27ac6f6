"""Browser tests: Playwright driving the distribution's Chromium (never a downloaded one).

On a machine without Chromium (or without Playwright) these tests skip, saying why ("needs
..."); in CI such a skip is a failure (tests/support/ci_skips.py), so they cannot quietly stop
running.
Each test module starts its own browser; every test has its own live server.
Screenshots go to Backend/.artifacts/browser/ (gitignored), or $ARTIFACTS_DIR/browser.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# The real binary first: /usr/bin/chromium is Debian's wrapper script around it.
CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/snap/bin/chromium")
INSTALL_HINT = "install the distribution's Chromium (apt-get install chromium) to run them"


def chromium_path() -> str | None:
    given = os.environ.get("CHROMIUM_PATH")
    if given:
        return given if os.access(given, os.X_OK) else None
    for path in CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("chromium") or shutil.which("chromium-browser")


def artifacts_dir() -> Path:
    base = os.environ.get("ARTIFACTS_DIR")
    root = Path(base) if base else Path(__file__).resolve().parents[2] / ".artifacts"
    path = root / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """One headless Chromium per test module. Not per process: Playwright's sync API
    keeps an event loop running in the main thread while it is open, and a later test
    in the same process calling asyncio.run() would find it there."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(f"needs Playwright (pip install -e .[dev]); {INSTALL_HINT}")
    path = chromium_path()
    if path is None:
        pytest.skip(f"needs Chromium (none at {', '.join(CANDIDATES)}); {INSTALL_HINT}")
    with sync_playwright() as playwright:
        # --no-sandbox: CI and containers run as root, where Chromium's sandbox cannot start.
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, request) -> Iterator[object]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.shots = []  # type: ignore[attr-defined]

    def shot(name: str) -> None:
        target = artifacts_dir() / f"{request.node.name}-{len(page.shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(target), full_page=True)
        page.shots.append(target)  # type: ignore[attr-defined]

    page.shot = shot  # type: ignore[attr-defined]
    yield page
    context.close()
