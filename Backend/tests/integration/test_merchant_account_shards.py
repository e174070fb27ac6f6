"""A merchant's account in eight shards (migration 0062) on real PostgreSQL: a payer at
the till always pays the shard of their wallet's id mod 8; what the merchant holds, in
its views and its SMS, is the shards' sum; a payout, a refund and an operator's
reversal each draw what they take from the shards (the shard a payment went to may
have paid out since); money from a rail goes to shard 0. No payment waits on another
payer's shard. The ledger check stays sound after each."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.merchants import FeeRule
from app.errors import InsufficientFunds
from app.services import adjustments, merchant_refunds, merchants
from app.services.merchant_accounts import MerchantFunds
from app.services.merchant_payments import payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from app.services.mpesa import merchant_payouts
from tests.integration.test_credited_account_locked_last import (
    account_of,
    has_written_journal,
    held,
    in_thread,
    waiting_backend,
)
from tests.integration.test_ledger_concurrency import errors_of, run_together
from tests.support.merchants import account_paid_by, application
from tests.support.mpesa import rows
from tests.support.wallets import check_ledger, fund, phone_of, register, registration_secrets

TILL = "512345"
RULE = FeeRule(50, 100, 20_000)  # 0.5 %, KES 1 to KES 200
KES = 100


@pytest.fixture
def shop(clean_database: Database, settings):
    """Three funded payers (consecutive wallets: three different shards) and a merchant."""
    box, pin_hash = registration_secrets(settings)
    payers = []
    for n in (1, 2, 3):
        payers.append(register(clean_database, box, pin_hash, phone=phone_of(n)))
        fund(clean_database, phone_of(n), 50_000 * KES)
    merchant = merchants.onboard(UnitOfWork(clean_database), application(TILL, fee=RULE)).merchant
    return clean_database, payers, merchant


def pay(database: Database, payer: int, amount: int, key: str) -> payments.MerchantPayment:
    request = MerchantPaymentRequest(payer, TILL, amount, key)
    return payments.pay(UnitOfWork(database), request)


def shard_balances(database: Database, merchant_id: int) -> list[tuple[int, int]]:
    return rows(
        database,
        "SELECT m.shard, a.balance FROM merchant_accounts m"
        " JOIN ledger_accounts a ON a.id = m.account_id"
        " WHERE m.merchant_id = %(m)s ORDER BY m.shard",
        m=merchant_id,
    )


def merchant_legs(database: Database, transaction_id: int) -> list[tuple[int, int]]:
    """(shard, amount) of a journal transaction's legs on the merchant's accounts."""
    return rows(
        database,
        "SELECT m.shard, l.amount FROM journal_legs l"
        " JOIN merchant_accounts m ON m.account_id = l.account_id"
        " WHERE l.transaction_id = %(tx)s ORDER BY l.id",
        tx=transaction_id,
    )


def holds(database: Database, merchant_id: int) -> int:
    merchant = merchants.get(UnitOfWork(database), merchant_id)
    assert merchant is not None
    return merchant.balance


def test_a_merchant_is_onboarded_with_eight_accounts_shard_0_its_first(shop):
    database, _, merchant = shop
    listed = rows(
        database,
        "SELECT m.shard, a.kind, a.code FROM merchant_accounts m"
        " JOIN ledger_accounts a ON a.id = m.account_id"
        " WHERE m.merchant_id = %(m)s ORDER BY m.shard",
        m=merchant.id,
    )
    assert listed == [(0, "merchant", f"merchant:{TILL}")] + [
        (n, "merchant", f"merchant:{TILL}:{n}") for n in range(1, 8)
    ]
    [(first,)] = rows(
        database,
        "SELECT account_id FROM merchant_accounts WHERE merchant_id = %(m)s AND shard = 0",
        m=merchant.id,
    )
    assert first == merchant.account_id


def test_each_payer_pays_the_shard_of_their_wallet_and_the_merchant_holds_the_sum(shop):
    database, payers, merchant = shop
    made = [pay(database, payer, (100 + n) * KES, f"p{n}") for n, payer in enumerate(payers)]
    again = pay(database, payers[0], 50 * KES, "p0-again")

    for payment, payer in zip([*made, again], [*payers, payers[0]], strict=True):
        shard = account_of(database, payer) % 8
        fee = RULE.fee_for(payment.amount)
        assert merchant_legs(database, payment.transaction_id) == [
            (shard, payment.amount),
            (shard, -fee),
        ]
    nets = [p.amount - p.merchant_fee for p in [*made, again]]
    assert holds(database, merchant.id) == sum(nets)
    by_shard = dict(shard_balances(database, merchant.id))
    assert sorted(b for b in by_shard.values() if b) == sorted(
        [nets[0] + nets[3], nets[1], nets[2]]
    )
    # The merchant's notice tells what it holds: every shard.
    [(notice,)] = rows(
        database,
        "SELECT payload->>'message' FROM outbox WHERE dedupe_key = %(k)s",
        k=f"journal:{again.reference}:merchant:{merchant.id}",
    )
    assert f"KES {sum(nets) // 100:,}" in notice
    assert check_ledger(database).sound


def test_a_payment_waits_only_on_its_own_shard(shop):
    """Another payer's shard held elsewhere: a payment onto this payer's goes through."""
    database, payers, merchant = shop
    other = account_paid_by(database, merchant.id, payers[1])
    with held(database, other):
        made = pay(database, payers[0], 100 * KES, "beside")
    assert made.amount == 100 * KES
    mine = account_paid_by(database, merchant.id, payers[0])
    with held(database, mine):
        thread, result = in_thread(lambda: pay(database, payers[0], 100 * KES, "behind"))
        pid = waiting_backend(database, "ledger_merchant_pay")
        assert has_written_journal(database, pid)  # its shard, last, by its leg
    thread.join(timeout=30)
    assert result and not isinstance(result[0], Exception), result
    assert check_ledger(database).sound


def test_a_payout_draws_from_every_shard_that_holds_money(shop):
    database, payers, merchant = shop
    for n, payer in enumerate(payers):
        pay(database, payer, 1_000 * KES, f"p{n}")
    held_before = holds(database, merchant.id)

    answer = merchant_payouts.request_payout(
        UnitOfWork(database), merchant.id, "all", None, result_wait_s=60, now=datetime.now(UTC)
    )

    assert answer.status == 201
    [(tx, amount, fee)] = rows(
        database, "SELECT id, amount, fee FROM journal_transactions WHERE kind = 'withdrawal'"
    )
    drawn = merchant_legs(database, tx)
    assert len(drawn) == 3 and all(leg < 0 for _, leg in drawn)
    assert -sum(leg for _, leg in drawn) == amount + fee
    assert holds(database, merchant.id) == held_before - amount - fee
    assert all(balance >= 0 for _, balance in shard_balances(database, merchant.id))
    assert check_ledger(database).sound


def test_a_refund_and_a_reversal_draw_from_other_shards_when_theirs_is_short(shop):
    database, payers, merchant = shop
    first = pay(database, payers[0], 3_000 * KES, "first")
    # A payout takes most of the first payer's shard (the fullest is drawn first).
    merchant_payouts.request_payout(
        UnitOfWork(database), merchant.id, "most", 2_500 * KES, result_wait_s=60,
        now=datetime.now(UTC),
    )  # fmt: skip
    second = pay(database, payers[1], 10_000 * KES, "second")
    mine = account_of(database, payers[0]) % 8
    short = dict(shard_balances(database, merchant.id))[mine]
    assert short < first.amount - first.merchant_fee < holds(database, merchant.id)

    # The operator reverses the first payment: its shard holds less than the merchant's
    # net share of it, which comes back from the fullest shard instead.
    reversal = adjustments.reverse(UnitOfWork(database), transaction_id=first.transaction_id)
    fullest = account_of(database, payers[1]) % 8
    assert merchant_legs(database, reversal.transaction_id) == [
        (fullest, -(first.amount - first.merchant_fee))
    ]
    assert dict(shard_balances(database, merchant.id))[mine] == short

    # A refund of the second payment larger than its own shard now holds.
    third = pay(database, payers[2], 200 * KES, "third")
    held_now = holds(database, merchant.id)
    refund = merchant_refunds.refund(
        UnitOfWork(database),
        merchant.id,
        "refund-1",
        merchant_refunds.RefundAsk(second.reference, held_now - 100 * KES),
        datetime.now(UTC),
    )
    assert refund.status == 201
    [(refund_tx,)] = rows(
        database, "SELECT id FROM journal_transactions WHERE kind = 'merchant_refund'"
    )
    drawn = merchant_legs(database, refund_tx)
    assert len(drawn) > 1 and -sum(leg for _, leg in drawn) == held_now - 100 * KES
    assert holds(database, merchant.id) == 100 * KES
    assert third.amount > 0 and check_ledger(database).sound


def test_a_reversal_the_merchant_cannot_cover_moves_nothing(shop):
    database, payers, merchant = shop
    paid = pay(database, payers[0], 3_000 * KES, "paid")
    merchant_payouts.request_payout(
        UnitOfWork(database), merchant.id, "all", None, result_wait_s=60, now=datetime.now(UTC)
    )
    before = holds(database, merchant.id)
    with pytest.raises(InsufficientFunds) as short:
        adjustments.reverse(UnitOfWork(database), transaction_id=paid.transaction_id)
    assert short.value.balance == before
    assert holds(database, merchant.id) == before
    assert check_ledger(database).sound


def test_a_draw_takes_the_fullest_shards_first_and_never_more_than_they_hold():
    def funds(*balances: int) -> MerchantFunds:
        from app.db.repositories.ledger import LockedAccount

        return MerchantFunds(
            tuple(
                LockedAccount(10 + n, "merchant", None, None, b, None, None, None, None)
                for n, b in enumerate(balances)
            )
        )

    assert funds(5, 0, 9, 2).draw(12) == [(12, -9), (10, -3)]
    assert funds(5, 0, 9, 2).draw(16) == [(12, -9), (10, -5), (13, -2)]
    assert funds(4, 4).draw(4) == [(10, -4)]  # ties: the lower id
    assert funds(1, 1).draw(0) == []
    with pytest.raises(ValueError):
        funds(5, 0, 9, 2).draw(17)


def test_payments_payouts_refunds_and_a_reversal_at_once_never_deadlock(
    clean_database, crowd, settings
):
    """Eight payers on eight shards paying at once beside two payouts, a refund and an
    operator's reversal, each of those locking every shard: every call lands or is
    refused for its own reason, never a deadlock, and the books balance."""
    box, pin_hash = registration_secrets(settings)
    payers = []
    for n in range(1, 9):
        payers.append(register(clean_database, box, pin_hash, phone=phone_of(n)))
        fund(clean_database, phone_of(n), 50_000 * KES)
    merchant = merchants.onboard(UnitOfWork(clean_database), application(TILL, fee=RULE)).merchant
    assert len({account_paid_by(clean_database, merchant.id, p) for p in payers}) == 8
    earlier = [pay(clean_database, p, 2_000 * KES, f"before{n}") for n, p in enumerate(payers)]
    now = datetime.now(UTC)

    def paying(payer: int, key: str):
        return lambda: pay(crowd, payer, 300 * KES, key)

    def paying_out(key: str):
        return lambda: merchant_payouts.request_payout(
            UnitOfWork(crowd), merchant.id, key, 1_500 * KES, result_wait_s=60, now=now
        )

    calls = [
        *(paying(payer, f"race{n}:{i}") for n, payer in enumerate(payers) for i in range(3)),
        paying_out("payout-1"),
        paying_out("payout-2"),
        lambda: merchant_refunds.refund(
            UnitOfWork(crowd),
            merchant.id,
            "refund",
            merchant_refunds.RefundAsk(earlier[0].reference, 1_000 * KES),
            now,
        ),
        lambda: adjustments.reverse(UnitOfWork(crowd), transaction_id=earlier[1].transaction_id),
    ]
    outcomes = run_together(calls)

    assert errors_of(outcomes) == []
    paid = [o for o in outcomes if isinstance(o, payments.MerchantPayment)]
    assert len(paid) == 24
    [(count,)] = rows(
        clean_database, "SELECT count(*) FROM journal_transactions WHERE kind = 'withdrawal'"
    )
    assert count == 2
    assert all(balance >= 0 for _, balance in shard_balances(clean_database, merchant.id))
    assert check_ledger(clean_database).sound
