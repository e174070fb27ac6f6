"""M-Pesa money on PayTrace's local Stellar network: a deposit is minted to the wallet,
a withdrawal's hold lives with the treasury (user -> treasury), its payout is burnt
(treasury -> issuer) and its release goes back (treasury -> user). Once the settler is
quiet, every wallet and the treasury hold on-chain exactly what the ledger says."""

from __future__ import annotations

import uuid

import pytest

from app.db.unit_of_work import UnitOfWork
from app.integrations.daraja_payloads import PaymentOutcome, StkOutcome, Verdict
from app.integrations.stellar import Horizon
from app.services.mpesa import deposits, payouts, stk_results, withdrawals
from app.services.pins import PinHasher, PinPolicy
from tests.integration.test_stellar_settlement import register_active, settlement_rows
from tests.support.stellar import books, custody_settings, local_network, prepared_system, settler

KES = 100
POLICY = payouts.CheckPolicy()


@pytest.fixture
def custody(settings, tmp_path):
    with local_network(tmp_path / "net", close_interval_s=0.05) as net:
        custody = custody_settings(settings, net.url, stellar_channels=4)
        yield custody, prepared_system(custody), Horizon(net.url)


def deposit(database, user_id: int, amount: int) -> None:
    asked = deposits.request_deposit(
        UnitOfWork(database),
        deposits.DepositRequest(user_id, amount, uuid.uuid4().hex, "api"),
        query_after_s=60,
    ).deposit
    checkout = f"ws_CO_{asked.reference}"
    with UnitOfWork(database) as uow:  # as the worker records M-Pesa taking the push
        deposits.push_accepted(
            uow,
            asked.reference,
            merchant_request_id="m",
            checkout_request_id=checkout,
            query_after_s=60,
        )
        uow.commit()
    paid = StkOutcome(checkout, "m", "0", "paid", source="query")  # as an STK query says
    assert stk_results.settle(UnitOfWork(database), paid) == "credited"


def hold(settings, database, user_id: int, amount: int) -> str:
    held = withdrawals.withdraw(
        UnitOfWork(database),
        PinHasher.from_settings(settings),
        PinPolicy.from_settings(settings),
        withdrawals.WithdrawalRequest(user_id, amount, uuid.uuid4().hex, "api"),
        pin="4821",
        result_wait_s=300,
    )
    return held.withdrawal.originator_conversation_id


def answer(database, originator: str, verdict: Verdict) -> str:
    """M-Pesa's answer to a transaction status query PayTrace made about it."""
    query = f"AG_{uuid.uuid4().hex[:12]}"
    with UnitOfWork(database) as uow:
        [withdrawal] = [uow.withdrawals.lock_by_originator(originator)]
        uow.status_queries.add(
            withdrawal_id=withdrawal.id, conversation_id=query, originator_conversation_id=None
        )
        uow.commit()
    outcome = PaymentOutcome(
        verdict,
        "status_result",
        "0",
        "d",
        originator,
        amount=withdrawal.amount if verdict is Verdict.PAID else None,
        query_conversation_id=query,
    )
    return payouts.settle(UnitOfWork(database), outcome, policy=POLICY)


def test_deposits_and_withdrawals_settle_and_the_books_agree(custody, clean_database):
    settings, system, horizon = custody
    jane, amina = register_active(settings, clean_database, 2)
    deposit(clean_database, jane, 1_000 * KES)
    deposit(clean_database, amina, 300 * KES)
    paid = hold(settings, clean_database, jane, 400 * KES)  # + KES 15 fee
    failed = hold(settings, clean_database, amina, 100 * KES)  # + KES 5 fee
    still_held = hold(settings, clean_database, jane, 200 * KES)  # + KES 15 fee
    assert answer(clean_database, paid, Verdict.PAID) == "paid"
    assert answer(clean_database, failed, Verdict.FAILED) == "released"
    assert still_held

    settler(settings, clean_database, system).settle_all()

    ledger, on_chain = books(clean_database, horizon, system)
    assert on_chain == ledger
    # The treasury holds the open hold and the fee earned; the payout was burnt.
    assert ledger[system.treasury.public_key] == 215 * KES + 15 * KES
    rows = settlement_rows(clean_database)
    assert len(rows) == 2 + 3 + 1 + 1  # deposits, holds, a payout, a release
    assert all(status == "settled" for _, status, *_ in rows)
