"""Settlement on PayTrace's local Stellar network, over real HTTP: every movement that
touches a wallet is mirrored by KES payments signed with the custodied keys, once, in
an order that never spends what an account does not yet hold."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.db.unit_of_work import UnitOfWork
from app.integrations.stellar import Horizon
from app.services.adjustments import reverse
from app.services.registration import NewUser, register_user
from app.services.transfers import TransferRequest, transfer
from tests.support.stellar import (
    activate_pending,
    books,
    custody_settings,
    local_network,
    prepared_system,
    settler,
)
from tests.support.wallets import SHORTCODE, fund, phone_of, registration_secrets


@pytest.fixture
def custody(settings, tmp_path):
    with local_network(tmp_path / "net", close_interval_s=0.05) as net:
        custody = custody_settings(settings, net.url, stellar_channels=4)
        yield custody, prepared_system(custody), Horizon(net.url)


def register_active(custody_settings, database, count: int) -> list[int]:
    box, pin_hash = registration_secrets(custody_settings)
    ids = []
    for n in range(count):
        phone = phone_of(n)
        done = register_user(
            UnitOfWork(database),
            box,
            NewUser(phone, f"User {'ABCDEFGHIJ'[n]}", pin_hash, "en", f"test:{phone}"),
            shortcode=SHORTCODE,
        )
        ids.append(done.user.id)
    activate_pending(custody_settings, database)
    return ids


def send(database, sender: int, to: int, amount: int, key: str):
    return transfer(
        UnitOfWork(database), TransferRequest(sender, phone_of(to), amount, key, channel="api")
    )


def settlement_rows(database) -> list[tuple]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT transaction_id, status, tx_hash, ledger FROM stellar_settlements"
            " ORDER BY transaction_id"
        )
        return cur.fetchall()


def test_deposits_transfers_and_a_reversal_settle_and_the_books_agree(custody, clean_database):
    settings, system, horizon = custody
    users = register_active(settings, clean_database, 3)
    fund(clean_database, phone_of(0), 500_00)
    send(clean_database, users[0], 1, 200_00, "a")  # 0 -> 1, with a fee to the treasury
    send(clean_database, users[1], 2, 150_00, "b")  # 1 passes most of it on to 2 at once
    moved = send(clean_database, users[2], 0, 40_00, "c")
    reverse(UnitOfWork(clean_database), transaction_id=moved.transaction_id)

    settler(settings, clean_database, system).settle_all()

    ledger, on_chain = books(clean_database, horizon, system)
    assert on_chain == ledger
    assert ledger[system.treasury.public_key] > 0  # fees reached the treasury on-chain
    rows = settlement_rows(clean_database)
    assert len(rows) == 5 and all(status == "settled" for _, status, *_ in rows)
    assert all(tx_hash and ledger_seq for _, _, tx_hash, ledger_seq in rows)


def test_a_movement_waits_for_its_payers_activation(custody, clean_database):
    settings, system, horizon = custody
    box, pin_hash = registration_secrets(settings)
    phone = phone_of(7)
    register_user(
        UnitOfWork(clean_database),
        box,
        NewUser(phone, "Late Starter", pin_hash, "en", "test:late"),
        shortcode=SHORTCODE,
    )
    fund(clean_database, phone, 10_00)
    engine = settler(settings, clean_database, system)
    engine.step()
    assert [status for _, status, *_ in settlement_rows(clean_database)] == ["pending"]
    activate_pending(settings, clean_database)
    engine.settle_all()
    ledger, on_chain = books(clean_database, horizon, system)
    assert on_chain == ledger


@hypothesis_settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    transfers=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(1, 250_00), st.booleans()),
        min_size=60,
        max_size=120,
    )
)
def test_any_run_of_transfers_leaves_every_on_chain_balance_equal_to_the_ledger(
    custody, clean_database, transfers
):
    """Hundreds of random transfers over the examples (the books carry over from one
    example to the next): after the settler is quiet, every wallet's KES on-chain and
    the treasury's equal the ledger, to the cent."""
    settings, system, horizon = custody
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT user_id FROM wallets ORDER BY user_id")
        users = [row[0] for row in cur.fetchall()]
    if not users:
        users = register_active(settings, clean_database, 3)
        for n in range(3):
            fund(clean_database, phone_of(n), 300_00, reference=f"seed-{n}")
    engine = settler(settings, clean_database, system)
    for sender, recipient, amount, settle_now in transfers:
        if sender == recipient:
            recipient = (recipient + 1) % 3
        try:
            send(clean_database, users[sender], recipient, amount, f"p:{uuid.uuid4().hex}")
        except Exception as exc:  # insufficient funds, limits: the ledger refused, fine
            assert type(exc).__name__ in {"InsufficientFunds", "LimitExceeded"}, exc
        if settle_now:
            engine.step()  # settlement runs while movements keep arriving
    engine.settle_all()
    ledger, on_chain = books(clean_database, horizon, system)
    assert on_chain == ledger
