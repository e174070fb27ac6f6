"""A parked settlement on PayTrace's local Stellar network, over real HTTP: the network
refuses a movement, the settler parks it and holds back what depends on it, an operator
fixes the cause and retries it through the admin API, and the settler then settles it
with a new envelope: every on-chain balance equals the ledger, nothing paid twice."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from stellar_sdk import Asset, Keypair, Server, TransactionBuilder

from app.api.app import create_app
from app.db.unit_of_work import UnitOfWork
from app.integrations.stellar import Horizon
from app.services.adjustments import cash_in
from app.services.custody import SecretBox, SystemAccounts
from app.services.pins import PinHasher
from app.services.transfers import TransferRequest, transfer
from app.worker.settlement import Settler
from tests.conftest import LiveServer
from tests.support.stellar import (
    activate_pending,
    books,
    custody_settings,
    kes_cents,
    local_network,
    prepared_system,
    settler,
)
from tests.support.wallets import fund, phone_of, register

ALICE, BOB, CAROL = phone_of(1), phone_of(2), phone_of(3)


@pytest.fixture
def custody(live_settings, tmp_path) -> Iterator[tuple]:
    """The local network, PayTrace's accounts on it, and the API serving against it."""
    with local_network(tmp_path / "net", close_interval_s=0.05) as net:
        settings = custody_settings(
            live_settings, net.url, stellar_channels=2, stellar_envelope_ttl_s=3
        )
        system = prepared_system(settings)
        with LiveServer(create_app(settings), settings.port) as api:
            token = settings.admin_token.get_secret_value()
            with httpx.Client(
                base_url=api.url + "/api/v1/admin",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            ) as admin:
                yield settings, system, Horizon(net.url), admin


def wallet_keypair(settings, database, user_id: int) -> Keypair:
    """The custodied key of a wallet, opened as the worker opens it to sign."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT stellar_secret_ct FROM wallets WHERE user_id = %s", (user_id,))
        token = cur.fetchone()[0]
        conn.rollback()
    return Keypair.from_secret(SecretBox.from_settings(settings).decrypt(token))


def operator_transaction(
    settings, horizon: Horizon, system: SystemAccounts, user: Keypair, *, trust: bool
) -> None:
    """What an operator does on the network with the treasury (which pays the fee) and
    the user's custodied key: remove the user's empty KES trustline, or add it back with
    its reserve sponsored by the treasury, as activation does."""
    server: Server = horizon.server
    builder = TransactionBuilder(
        server.load_account(system.treasury.public_key),
        settings.stellar_network_passphrase,
        base_fee=100,
    )
    asset = Asset(system.asset.code, system.asset.issuer)
    if trust:
        builder.append_begin_sponsoring_future_reserves_op(
            user.public_key, source=system.treasury.public_key
        )
        builder.append_change_trust_op(asset, source=user.public_key)
        builder.append_end_sponsoring_future_reserves_op(source=user.public_key)
    else:
        builder.append_change_trust_op(asset, limit="0", source=user.public_key)
    envelope = builder.set_timeout(60).build()
    envelope.sign(system.treasury)
    envelope.sign(user)
    answer = server.submit_transaction(envelope)
    assert answer["successful"], answer


def send(database, sender: int, to: str, amount: int, key: str) -> int:
    moved = transfer(
        UnitOfWork(database),
        TransferRequest(sender, to, amount, key, channel="api"),
    )
    return moved.transaction_id


def statuses(database) -> dict[int, str]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT transaction_id, status FROM stellar_settlements")
        found = dict(cur.fetchall())
        conn.rollback()
    return found


def step_until(engine: Settler, database, done, timeout_s: float = 30.0) -> None:
    """Settler rounds until done(statuses) holds, then its envelopes in flight answered."""
    deadline = time.monotonic() + timeout_s
    while not done(statuses(database)):
        assert time.monotonic() < deadline, statuses(database)
        if not engine.step():
            time.sleep(0.02)
    engine.drain()


def test_a_refused_movement_is_parked_retried_by_an_operator_and_then_settles(
    custody, clean_database
):
    settings, system, horizon, admin = custody
    box = SecretBox.from_settings(settings)
    pin_hash = PinHasher.from_settings(settings).hash("4821")
    alice, bob, _ = (
        register(clean_database, box, pin_hash, phone=phone, name=name)
        for phone, name in ((ALICE, "Alice Wanjiru"), (BOB, "Bob Otieno"), (CAROL, "Carol Njeri"))
    )
    activate_pending(settings, clean_database)
    engine = settler(settings, clean_database, system)
    fund(clean_database, ALICE, 500_00)
    fund(clean_database, CAROL, 50_00)
    engine.settle_all()

    # The cause: Bob's account can no longer hold KES (his empty trustline removed).
    bob_key = wallet_keypair(settings, clean_database, bob)
    operator_transaction(settings, horizon, system, bob_key, trust=False)
    assert kes_cents(horizon, system, bob_key.public_key) is None

    refused = send(clean_database, alice, BOB, 100_00, "a-to-b")
    step_until(engine, clean_database, lambda s: s[refused] == "failed")
    # Later movements spending from Alice or Bob wait behind it; a movement that spends
    # from none of the parties held back settles meanwhile.
    alice_later = send(clean_database, alice, CAROL, 30_00, "a-to-c")
    bob_later = send(clean_database, bob, CAROL, 20_00, "b-to-c")
    unrelated = cash_in(
        UnitOfWork(clean_database), phone=CAROL, amount=5_00, reference="AG-2"
    ).transaction_id
    step_until(engine, clean_database, lambda s: s[unrelated] != "pending")
    engine.drain()
    assert statuses(clean_database)[alice_later] == "pending"
    assert statuses(clean_database)[bob_later] == "pending"

    listed = admin.get("/settlements").json()["items"]
    assert [item["transaction_id"] for item in listed] == [refused]
    parked = listed[0]
    assert (parked["status"], parked["kind"], parked["amount"]) == ("failed", "transfer", 100_00)
    assert "op_no_trust" in parked["last_error"]
    refused_hash = parked["envelope_hash"]
    # The network refused that envelope: it is on no ledger as applied, and never will be.
    assert horizon.transaction_ledger(refused_hash) is None
    assert admin.get(f"/transactions/{refused}").json()["settlement"]["status"] == "failed"

    # The operator fixes the cause, then retries through the admin API. The refused
    # envelope failed in a ledger, which used its channel's sequence number: the network
    # shows it can never apply, so the retry is accepted at once, whatever its time bound.
    operator_transaction(settings, horizon, system, bob_key, trust=True)
    retried = admin.post(f"/settlements/{refused}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["retried"]) == ("pending", True)

    engine.settle_all()

    assert set(statuses(clean_database).values()) == {"settled"}
    ledger, on_chain = books(clean_database, horizon, system)
    assert on_chain == ledger
    assert on_chain[bob_key.public_key] == 100_00 - 20_00  # paid once, after the retry
    settlement = admin.get(f"/transactions/{refused}").json()["settlement"]
    assert settlement["status"] == "settled" and settlement["last_error"] is None
    assert settlement["stellar_tx_hash"] not in (None, refused_hash)
    assert horizon.transaction_ledger(settlement["stellar_tx_hash"]) == settlement["ledger"]
    assert horizon.transaction_ledger(refused_hash) is None
    assert admin.get("/settlements").json()["items"] == []
    again = admin.post(f"/settlements/{refused}/retry")
    assert (again.status_code, again.json()["error"]) == (409, "not_retryable")
