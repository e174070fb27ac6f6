"""The ledger's lock order, (locked_last, id) (migration 0058): an operator marks a hot
account locked last, and every movement then takes its lock after every unmarked
account's. Observed from PostgreSQL, as test_credited_account_locked_last.py does for
id order: while a marked account is held by another session, a movement onto it has
already written its journal row; a movement that pays from it waits on the other
account first without touching it. And the mark's own rules: one fence, no change
while the ledger is busy, nothing twice."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.merchants import FeeRule
from app.errors import LedgerBusy, NotFound
from app.services import lock_order, merchants, transfers
from app.services.harambee.contributions import ContributionRequest, contribute
from app.services.lock_order import Owner
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from app.services.transfers import TransferRequest
from tests.integration.test_credited_account_locked_last import (
    account_of,
    has_written_journal,
    held,
    in_thread,
    send,
    waiting_backend,
)
from tests.integration.test_harambee_concurrency import escrow_paid_by, open_campaign
from tests.support.merchants import account_paid_by, application
from tests.support.wallets import check_ledger, fund, phone_of, register, registration_secrets

KES = 100


@pytest.fixture
def three(clean_database, settings) -> tuple[int, int, int]:
    """Three funded users, in ascending wallet id order."""
    box, pin_hash = registration_secrets(settings)
    ids = []
    for n in (1, 2, 3):
        ids.append(register(clean_database, box, pin_hash, phone=phone_of(n)))
        fund(clean_database, phone_of(n), 10_000 * KES)
    return ids[0], ids[1], ids[2]


def mark(database: Database, n: int, locked_last: bool = True) -> bool:
    _, changed = lock_order.mark_locked_last(UnitOfWork(database), Owner(phone_of(n)), locked_last)
    return changed


def lockable_now(database: Database, account_id: int) -> bool:
    """Whether another session could lock the account this instant (no one holds it)."""
    conn = psycopg2.connect(database.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT 1 FROM ledger_accounts WHERE id = %s FOR NO KEY UPDATE SKIP LOCKED",
                (account_id,),
            )
            return cur.fetchone() is not None
    finally:
        conn.rollback()
        conn.close()


def test_a_transfer_onto_a_marked_wallet_with_the_lowest_id_writes_its_journal_first(
    clean_database, three
):
    low, _, high = three
    assert mark(clean_database, 1)
    with held(clean_database, account_of(clean_database, low)):
        thread, result = in_thread(send(clean_database, high, 1, "onto-marked"))
        pid = waiting_backend(clean_database, "ledger_transfer")
        # Unmarked, the lowest id is locked first, before any row is written
        # (test_a_transfer_to_the_lower_id_takes_every_lock_first).
        assert has_written_journal(clean_database, pid)
    thread.join(timeout=30)

    assert result and not isinstance(result[0], Exception), result
    assert check_ledger(clean_database).sound


def test_a_marked_sender_is_locked_after_the_unmarked_recipient(clean_database, three):
    low, _, high = three
    assert mark(clean_database, 1)
    with held(clean_database, account_of(clean_database, high)):
        thread, result = in_thread(send(clean_database, low, 3, "from-marked"))
        waiting_backend(clean_database, "ledger_transfer")
        # In id order the sender (the lower id) would be held by now.
        assert lockable_now(clean_database, account_of(clean_database, low))
    thread.join(timeout=30)

    assert result and not isinstance(result[0], Exception), result
    assert check_ledger(clean_database).sound


def test_accounts_are_locked_in_the_same_order_by_the_services_own_statement(clean_database, three):
    low, mid, high = three
    mark(clean_database, 1)
    uow = UnitOfWork(clean_database)
    with uow:
        locked = uow.ledger.accounts(user_ids=[high, low, mid])
    assert [a.user_id for a in locked] == [mid, high, low]


def test_a_contribution_from_a_marked_wallet_takes_the_escrow_first(clean_database, three):
    organiser, giver, _ = three
    campaign_id = open_campaign(clean_database, organiser, target=50_000 * KES)
    escrow = escrow_paid_by(clean_database, campaign_id, giver)
    assert escrow > account_of(clean_database, giver)  # unmarked, the escrow is last
    mark(clean_database, 2)
    request = ContributionRequest(giver, campaign_id, 300 * KES, "marked-giver")

    with held(clean_database, escrow):
        thread, result = in_thread(lambda: contribute(UnitOfWork(clean_database), request))
        pid = waiting_backend(clean_database, "ledger_contribute")
        assert not has_written_journal(clean_database, pid)
        assert lockable_now(clean_database, account_of(clean_database, giver))
    thread.join(timeout=30)

    assert result and not isinstance(result[0], Exception), result
    assert check_ledger(clean_database).sound


def test_transfers_both_ways_with_a_marked_wallet_never_deadlock(clean_database, three):
    """Every pair of the three, both ways, fee-bearing and not, from 8 threads: an
    order one movement kept and another did not would deadlock here (PostgreSQL
    breaks it by failing one of them)."""
    mark(clean_database, 2)
    pairs = [(a, b) for a in (1, 2, 3) for b in (1, 2, 3) if a != b]
    ids = dict(zip((1, 2, 3), three, strict=True))

    def run(worker: int) -> list[object]:
        rng, outcomes = random.Random(worker), []
        for i in range(25):
            a, b = rng.choice(pairs)
            amount = rng.choice([50 * KES, 150 * KES])  # below and above the free band
            request = TransferRequest(ids[a], phone_of(b), amount, f"w{worker}:{i}")
            outcomes.append(transfers.transfer(UnitOfWork(clean_database), request))
        return outcomes

    with ThreadPoolExecutor(8) as pool:
        outcomes = [o for done in pool.map(run, range(8)) for o in done]
    assert len(outcomes) == 200
    assert check_ledger(clean_database).sound


def test_a_mark_waits_for_movements_and_changes_nothing_if_the_ledger_stays_busy(
    clean_database, three
):
    low, *_ = three
    account = account_of(clean_database, low)
    conn = psycopg2.connect(clean_database.dsn)
    try:
        with conn.cursor() as cur:  # a transaction that read the order, still open
            cur.execute("SELECT locked_last FROM ledger_accounts WHERE id = %s", (account,))
        started = time.monotonic()
        with pytest.raises(LedgerBusy):
            lock_order.mark_locked_last(
                UnitOfWork(clean_database), Owner(phone_of(1)), True, wait_ms=100, tries=3
            )
        # Three tries of 0.1 s, two pauses of 0.1 s: no reader waited longer than a try.
        assert 0.5 <= time.monotonic() - started < 2.0
    finally:
        conn.rollback()
        conn.close()
    assert not lock_order.account_of(UnitOfWork(clean_database), Owner(phone_of(1))).locked_last

    assert mark(clean_database, 1)  # the reader is gone
    assert not mark(clean_database, 1)  # again: nothing to change, no fence
    uow = UnitOfWork(clean_database)
    with uow:  # a second operator's change, decided before the first's committed
        uow.lock_order.fence(200)
        assert uow.lock_order.mark(account, True) is False
    marked = lock_order.marked(UnitOfWork(clean_database))
    assert [(m.account_id, m.kind, m.phone) for m in marked] == [(account, "wallet", phone_of(1))]
    assert mark(clean_database, 1, locked_last=False)
    assert lock_order.marked(UnitOfWork(clean_database)) == []


def test_a_mark_that_finds_the_ledger_busy_tries_again_and_lands(clean_database, three):
    """A long read holds the accounts past the first try; it ends, a later try lands."""
    conn = psycopg2.connect(clean_database.dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM ledger_accounts")
    thread, result = in_thread(
        lambda: lock_order.mark_locked_last(
            UnitOfWork(clean_database), Owner(phone_of(1)), True, wait_ms=100, tries=5
        )
    )
    time.sleep(0.3)  # past the first try
    conn.rollback()
    conn.close()
    thread.join(timeout=10)

    assert result and result[0][1] is True, result
    assert lock_order.account_of(UnitOfWork(clean_database), Owner(phone_of(1))).locked_last


def test_an_owner_with_no_account_is_not_found(clean_database, three):
    for owner in (Owner(phone_of(9)), Owner(merchant_id=99), Owner(campaign_code="999999")):
        with pytest.raises(NotFound):
            lock_order.mark_locked_last(UnitOfWork(clean_database), owner, True)
    with pytest.raises(ValueError):
        Owner(phone=phone_of(1), merchant_id=1)


def _merchant(database: Database, payer: int) -> tuple[int, str]:
    """A merchant onboarded after the users (its accounts have the highest ids) with a
    fee, so a payment locks a fees shard too: (the account the payer pays, its till)."""
    onboarded = merchants.onboard(
        UnitOfWork(database), application("512345", fee=FeeRule(50, 100, 20_000))
    ).merchant
    return account_paid_by(database, onboarded.id, payer), onboarded.till_number


def _pay(database: Database, payer: int, till: str, key: str):
    request = MerchantPaymentRequest(payer, till, 250 * KES, key)
    return lambda: merchant_payments.pay(UnitOfWork(database), request)


def test_a_till_payment_writes_its_journal_before_the_merchants_lock(clean_database, three):
    """The merchant's account, only credited and last in the lock order, is locked by its
    leg (ledger_merchant_pay, migration 0061): held elsewhere, the payment has written
    its journal row and holds its payer's wallet while it waits for it."""
    payer, _, _ = three
    account, till = _merchant(clean_database, payer)
    with held(clean_database, account):
        thread, result = in_thread(_pay(clean_database, payer, till, "till-last"))
        pid = waiting_backend(clean_database, "ledger_merchant_pay")
        assert has_written_journal(clean_database, pid)
        assert not lockable_now(clean_database, account_of(clean_database, payer))
    thread.join(timeout=30)

    assert result and not isinstance(result[0], Exception), result
    assert check_ledger(clean_database).sound


def test_a_till_payment_from_a_marked_wallet_takes_the_merchants_account_first(
    clean_database, three
):
    payer, _, _ = three
    account, till = _merchant(clean_database, payer)
    mark(clean_database, 1)  # the payer's wallet now sorts after the merchant's account
    with held(clean_database, account):
        thread, result = in_thread(_pay(clean_database, payer, till, "marked-payer"))
        pid = waiting_backend(clean_database, "ledger_merchant_pay")
        assert not has_written_journal(clean_database, pid)
        assert lockable_now(clean_database, account_of(clean_database, payer))
    thread.join(timeout=30)

    assert result and not isinstance(result[0], Exception), result
    assert check_ledger(clean_database).sound
