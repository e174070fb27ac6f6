"""docs/merchants.md's examples, run as written against a live server: the operator's
curl, the merchant's curl + openssl signing, and the Python client. Only the address and
the development token's file are pointed at the test's own server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.config import Settings
from tests.conftest import LiveServer

DOC = Path(__file__).resolve().parents[3] / "docs" / "merchants.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def pointed_at(code: str, server: LiveServer, settings: Settings) -> str:
    return code.replace("http://127.0.0.1:8000", server.url).replace(
        "Backend/.data/dev-secrets.json", str(settings.dev_secrets_path)
    )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_docs_examples_onboard_sign_and_are_answered(live_server, live_settings, tmp_path):
    operator, merchant, orders = blocks("sh")
    script = "set -eu\n" + "\n".join(
        pointed_at(code, live_server, live_settings) for code in (operator, merchant, orders)
    )
    script += '\necho "KEYS $PAYTRACE_KEY_ID $PAYTRACE_SECRET"\n'
    ran = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.returncode == 0, ran.stderr
    out = ran.stdout
    assert '"till_number":"512345"' in out  # onboarded, listed, read
    assert out.count('"key_id":"mk_live_') >= 2  # /merchant/me answered the signed requests
    assert out.count('"error":"invalid_signature"') == 1  # the replayed header, only
    assert "used before" in out
    # The orders block: created, replayed (not made twice), read, listed, canceled.
    assert out.count('"merchant_reference":"INV-2026-0042"') == 4
    assert "idempotent-replayed: true" in out.lower()
    assert out.count('"status":"awaiting_payment"') == 3 and '"status":"canceled"' in out
    key_id, secret = out.rsplit("KEYS ", 1)[1].split()

    (client,) = [code for code in blocks("python") if "urllib.request" in code]
    program = tmp_path / "client.py"
    program.write_text(pointed_at(client, live_server, live_settings))
    env = {**os.environ, "PAYTRACE_KEY_ID": key_id, "PAYTRACE_SECRET": secret}
    # The same request in the shell's last second would be the same signature (a replay).
    time.sleep(1.05)
    answered = subprocess.run(
        [sys.executable, str(program)], capture_output=True, text=True, timeout=30, env=env,
        check=False,
    )  # fmt: skip
    assert answered.returncode == 0, answered.stderr
    assert "'till_number': '512345'" in answered.stdout and key_id in answered.stdout


def test_the_docs_webhook_verifier_accepts_paytraces_signature_and_nothing_else():
    """The merchant's verifying snippet, as written, against what the worker signs."""
    from app.domain import webhooks as rules

    (verifier,) = [code for code in blocks("python") if "def verified" in code]
    namespace: dict[str, object] = {}
    exec(compile(verifier, "merchants.md", "exec"), namespace)  # noqa: S102 - our own docs
    verified = namespace["verified"]
    secret, now = "whsec_" + "s" * 43, int(time.time())
    body = rules.event_body("evt_" + "a" * 24, "order.paid", "2026-12-04T00:00:00+00:00",
                            {"object": "order", "id": 42, "status": "paid"})  # fmt: skip
    header = rules.signature_header(secret, now, body)
    assert verified(secret, header, body)
    assert not verified(secret, header, body.replace(b"42", b"43"))
    assert not verified("whsec_" + "t" * 43, header, body)
    assert not verified(secret, rules.signature_header(secret, now - 301, body), body)
    assert not verified(secret, "v1=" + "0" * 64, body)
    assert not verified(secret, "junk", body)
