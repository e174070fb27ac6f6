"""An independent implementation checks what PayTrace signs: the JS stellar-base (npm)
computes the same hash from the envelope's bytes and finds the signatures PayTrace
should have made, and only those. Skipped where Node.js is not installed
(tests/support/node_js.py)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from stellar_sdk import Keypair

from app.db.unit_of_work import UnitOfWork
from app.integrations.stellar import AccountState, FakeStellarNetwork
from app.services import stellar_envelopes
from app.services.custody import SecretBox, SystemAccounts
from app.services.transfers import TransferRequest, transfer
from app.worker.settlement import Settler
from tests.support.node_js import js_tools
from tests.support.wallets import fund, phone_of, register, registration_secrets

PASSPHRASE = "PayTrace Local Network ; development only"


@pytest.fixture(scope="module")
def js_checker() -> Path:
    return js_tools() / "verify_envelopes.mjs"


def check(script: Path, *requests: dict) -> list[dict]:
    lines = "".join(json.dumps(request) + "\n" for request in requests)
    done = subprocess.run(
        ["node", str(script)], input=lines, capture_output=True, text=True, timeout=60, check=True
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_activation_envelopes_verify_with_the_js_stellar_base(js_checker, settings):
    system = SystemAccounts.from_settings(settings, SecretBox.from_settings(settings))
    users, stranger = [Keypair.random(), Keypair.random()], Keypair.random()
    channel = system.channels[0]
    envelope = stellar_envelopes.activations(
        system,
        users,
        source=channel,
        source_sequence=8_589_934_592,
        max_time=datetime.now(UTC) + timedelta(minutes=2),
        passphrase=PASSPHRASE,
    )
    expected = [channel.public_key, system.treasury.public_key, *(u.public_key for u in users)]
    signers = [*expected, stranger.public_key]
    same, other_network = check(
        js_checker,
        {"xdr": envelope.to_xdr(), "passphrase": PASSPHRASE, "signers": signers},
        {"xdr": envelope.to_xdr(), "passphrase": "Some Other Network", "signers": signers},
    )
    assert same["hash"] == envelope.hash_hex()
    assert same["valid"] == expected
    assert [op["type"] for op in same["operations"]] == [
        "beginSponsoringFutureReserves",
        "createAccount",
        "changeTrust",
        "endSponsoringFutureReserves",
    ] * 2
    # Signatures are bound to the network: under another passphrase none verifies.
    assert other_network["valid"] == []


def test_settlement_envelopes_the_settler_signs_verify_with_the_js_stellar_base(
    js_checker, settings, clean_database
):
    """The envelope the settler really submitted (to a recording network) for a cash-in
    and a transfer with a fee: the channel's and the payers' signatures, nobody else's."""
    system = SystemAccounts.from_settings(settings, SecretBox.from_settings(settings))
    network = FakeStellarNetwork(
        accounts={
            c.public_key: AccountState(c.public_key, 4_294_967_296, {}) for c in system.channels
        }
    )
    box, pin_hash = registration_secrets(settings)
    for n in range(2):
        register(clean_database, box, pin_hash, phone=phone_of(n), name=f"User {'AB'[n]}")
    settler = Settler(
        clean_database,
        network,
        system,
        box,
        passphrase=PASSPHRASE,
        envelope_ttl_s=120,
        batch_window_s=10.0,  # both movements in one envelope
    )
    settler.settle_all(timeout_s=10)  # the two activations
    fund(clean_database, phone_of(0), 500_00)
    with UnitOfWork(clean_database) as uow:
        sender = uow.users.get_by_phone(phone_of(0))
    transfer(UnitOfWork(clean_database), TransferRequest(sender.id, phone_of(1), 200_00, "js"))
    settler.settle_all(timeout_s=10)

    xdr = network.submitted[-1]
    payers = [
        system.issuer.public_key,
        *(k.public_key for k in wallet_keys(settings, clean_database)),
    ]
    channel_keys = [c.public_key for c in system.channels]
    [verified] = check(
        js_checker,
        {"xdr": xdr, "passphrase": PASSPHRASE, "signers": [*channel_keys, *payers]},
    )
    signed_by_channel = [k for k in verified["valid"] if k in channel_keys]
    assert len(signed_by_channel) == 1
    # The issuer (minting the cash-in) and the sender; the recipient pays nothing.
    assert [k for k in verified["valid"] if k not in channel_keys] == payers[:2]
    assert [op["type"] for op in verified["operations"]] == ["payment"] * 3
    assert [op["source"] for op in verified["operations"]] == [payers[0], payers[1], payers[1]]


def wallet_keys(settings, database) -> list[Keypair]:
    box = SecretBox.from_settings(settings)
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT stellar_secret_ct FROM wallets ORDER BY id")
        found = [Keypair.from_secret(box.decrypt(row[0])) for row in cur.fetchall()]
        conn.rollback()
    return found
