"""An independent implementation checks what PayTrace signs: the JS stellar-base (npm)
computes the same hash from the envelope's bytes and finds the signatures PayTrace
should have made, and only those. Skipped where Node.js is not installed."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from stellar_sdk import Keypair

from app.services import stellar_envelopes
from app.services.custody import SecretBox, SystemAccounts

JS_DIR = Path(__file__).resolve().parents[1] / "js"
PASSPHRASE = "PayTrace Local Network ; development only"


@pytest.fixture(scope="module")
def js_checker() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js is not installed: the independent JS check cannot run")
    if not (JS_DIR / "node_modules" / "@stellar" / "stellar-base").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=JS_DIR,
            check=True,
            timeout=300,
        )
    return JS_DIR / "verify_envelopes.mjs"


def check(script: Path, *requests: dict) -> list[dict]:
    lines = "".join(json.dumps(request) + "\n" for request in requests)
    done = subprocess.run(
        ["node", str(script)], input=lines, capture_output=True, text=True, timeout=60, check=True
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_activation_envelopes_verify_with_the_js_stellar_base(js_checker, settings):
    system = SystemAccounts.from_settings(settings, SecretBox.from_settings(settings))
    user, stranger = Keypair.random(), Keypair.random()
    envelope = stellar_envelopes.activation(
        system,
        user,
        treasury_sequence=8_589_934_592,
        max_time=datetime.now(UTC) + timedelta(minutes=2),
        passphrase=PASSPHRASE,
    )
    signers = [system.treasury.public_key, user.public_key, stranger.public_key]
    same, other_network = check(
        js_checker,
        {"xdr": envelope.to_xdr(), "passphrase": PASSPHRASE, "signers": signers},
        {"xdr": envelope.to_xdr(), "passphrase": "Some Other Network", "signers": signers},
    )
    assert same["hash"] == envelope.hash_hex()
    assert same["valid"] == [system.treasury.public_key, user.public_key]
    assert [op["type"] for op in same["operations"]] == [
        "beginSponsoringFutureReserves",
        "createAccount",
        "changeTrust",
        "endSponsoringFutureReserves",
    ]
    # Signatures are bound to the network: under another passphrase none verifies.
    assert other_network["valid"] == []
