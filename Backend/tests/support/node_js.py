"""The JS stellar-sdk and stellar-base (npm), an implementation that shares no code with
PayTrace's Python one, for the tests that hold PayTrace and its local network to it.
Installed from tests/js/package-lock.json on first use (`npm ci`); where Node.js or npm
is missing the tests skip with a reason starting "needs " (CI has both, and there such
a skip fails the run: tests/support/ci_skips.py)."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

JS_DIR = Path(__file__).resolve().parents[1] / "js"
PACKAGES = ("stellar-base", "stellar-sdk")


def js_tools() -> Path:
    """tests/js with its packages installed, or a skip saying what to install."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("needs Node.js and npm (the JS stellar-sdk checks PayTrace independently)")
    # pytest-xdist's processes may all arrive here at once: one installs, the rest wait.
    where = hashlib.sha256(str(JS_DIR).encode()).hexdigest()[:12]
    lock_path = Path(tempfile.gettempdir()) / f"paytrace-npm-{where}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all((JS_DIR / "node_modules" / "@stellar" / p).exists() for p in PACKAGES):
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--silent"],
                cwd=JS_DIR,
                check=True,
                timeout=300,
            )
    return JS_DIR
