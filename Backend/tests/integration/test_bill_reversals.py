"""Reversing a delivered bill the biller refunded, over PostgreSQL: one movement (the
clearing account and the fees pay back amount and fee; the cashback goes back to the
promotions account, the rest to the wallet), the bill 'reversed' for good, its cashback
no longer counted against the month's cap, the user's SMS; once per bill, whoever asks
and however often; everything else refused with nothing moved."""

from __future__ import annotations

import uuid

import psycopg2.errors
import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.bills import DARAJA_B2B
from app.errors import IdempotencyConflict, NotFound, ValidationFailed
from app.services import adjustments
from app.services.adjustments import NotReversible
from app.services.bills import reversals
from app.services.bills.payments import BillRequest, pay_bill
from app.services.bills.reversals import BillNotReversible, RefundReferenceUsed
from app.services.pins import PinHasher, PinPolicy
from tests.integration.test_ledger_concurrency import run_together
from tests.support.bills import balances, journal_kinds, rows
from tests.support.promotions import (
    PIN,
    airtime_rule,
    deliver,
    fund_promotions,
    hold_bill,
    promotions_balance,
    release,
)
from tests.support.wallets import (
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

KES = 100
KPLC, METER = "kplc_prepaid", "12345678901"
START = 10_000 * KES


def jane(settings, database, language: str = "en") -> int:
    box, pin_hash = registration_secrets(settings)
    user_id = register(
        database, box, pin_hash, phone=phone_of(1), name="Jane Wanjiku", language=language
    )
    fund(database, phone_of(1), START)
    return user_id


def hold_kplc(settings, database, user_id: int, amount: int) -> str:
    held = pay_bill(
        UnitOfWork(database),
        PinHasher.from_settings(settings),
        PinPolicy.from_settings(settings),
        BillRequest(user_id, KPLC, METER, amount, uuid.uuid4().hex),
        pin=PIN,
        open_rails=("at_airtime", DARAJA_B2B),
    )
    return held.payment.reference


def reverse(database, bill: str, refund: str = "KPLC-RF-2026-001", reason: str = "wrong meter"):
    return reversals.reverse_bill(
        UnitOfWork(database), bill_reference=bill, refund_reference=refund, reason=reason
    )


def status_of(database, bill: str) -> str:
    [(status,)] = rows(
        database, "SELECT status FROM bill_payments WHERE reference = %(r)s", {"r": bill}
    )
    return status


def reversal_sms(database) -> list[str]:
    return [
        message
        for (message,) in rows(
            database,
            "SELECT payload->>'message' FROM outbox WHERE payload->>'template' = 'bill_reversed'",
        )
    ]


def test_a_refunded_bill_comes_back_with_its_fee_less_its_cashback_in_one_movement(
    settings, clean_database
):
    db = clean_database
    user = jane(settings, db, language="sw")
    airtime_rule(db, rate_bp=100, cap=50 * KES, biller_code=KPLC)
    fund_promotions(db, 1_000 * KES)
    bill = hold_kplc(settings, db, user, 2_000 * KES)  # fee KES 10 (the seeded band)
    deliver(db, bill)
    assert wallet_balance(db, user) == START - 2_010 * KES + 20 * KES
    before = balances(db)

    done = reverse(db, bill)

    assert (done.amount, done.fee, done.cashback_returned) == (2_000 * KES, 10 * KES, 20 * KES)
    assert done.refunded == 1_990 * KES and not done.replayed
    assert wallet_balance(db, user) == START  # paid nothing, earned nothing
    assert promotions_balance(db) == 1_000 * KES
    after = balances(db)
    assert after["bill_clearing"] == before["bill_clearing"] - 2_000 * KES
    assert after["fees"] == before["fees"] - 10 * KES
    assert status_of(db, bill) == "reversed"
    # One journal transaction, its settlement row written with it (the wallet and the
    # treasury's accounts move: mirrored on Stellar once, like every movement).
    [(kind, note, settled)] = rows(
        db,
        "SELECT t.kind, t.note, (SELECT count(*) FROM stellar_settlements s"
        " WHERE s.transaction_id = t.id) FROM journal_transactions t WHERE t.id = %(id)s",
        {"id": done.transaction_id},
    )
    assert (kind, note, settled) == ("bill_reversal", f"{bill} KPLC-RF-2026-001", 1)
    assert journal_kinds(db, "bill_reversal") == ["bill_reversal"]
    [sms] = reversal_sms(db)
    assert done.reference in sms and bill in sms and "KES 1,990" in sms and "zawadi" in sms
    # The month no longer counts the reversed bill's cashback: a new bill earns again.
    deliver(db, hold_kplc(settings, db, user, 2_000 * KES))
    assert wallet_balance(db, user) == START - 2_010 * KES + 20 * KES
    assert check_ledger(db).sound


def test_the_same_request_again_answers_the_same_reversal_and_another_is_refused(
    settings, clean_database
):
    db = clean_database
    user = jane(settings, db)
    bill = hold_bill(settings, db, user, phone_of(1), 100 * KES)
    deliver(db, bill)
    first = reverse(db, bill, refund="SAF-REV-77")
    again = reverse(db, bill.lower(), refund=" SAF-REV-77 ")
    assert again.replayed and again.transaction_id == first.transaction_id
    assert again.reference == first.reference and again.refunded == first.refunded == 100 * KES
    with pytest.raises(IdempotencyConflict):
        reverse(db, bill, refund="SAF-REV-78")
    with pytest.raises(IdempotencyConflict):
        reverse(db, bill, refund="SAF-REV-77", reason="another reason")
    assert journal_kinds(db, "bill_reversal") == ["bill_reversal"]
    assert len(reversal_sms(db)) == 1 and wallet_balance(db, user) == START
    assert check_ledger(db).sound


def test_only_a_delivered_bill_is_reversed_and_bad_requests_move_nothing(settings, clean_database):
    db = clean_database
    user = jane(settings, db)
    held = hold_bill(settings, db, user, phone_of(1), 100 * KES)
    failed = hold_bill(settings, db, user, phone_of(1), 200 * KES)
    release(db, failed)
    delivered = hold_bill(settings, db, user, phone_of(1), 300 * KES)
    deliver(db, delivered)
    before = balances(db)
    for bill in (held, failed):
        with pytest.raises(BillNotReversible):
            reverse(db, bill)
    for unknown in ("ZZZZZZZZZZ", "not a ref", ""):
        with pytest.raises(NotFound):
            reverse(db, unknown)
    for refund in ("", "x", "KPLC RF 1", "a" * 65, "-starts-with-a-dash"):
        with pytest.raises(ValidationFailed) as refusal:
            reverse(db, delivered, refund=refund)
        assert refusal.value.code == "invalid_refund_reference"
    for reason in ("", "   ", "x" * 201, "line\nbreak"):
        with pytest.raises(ValidationFailed) as refusal:
            reverse(db, delivered, reason=reason)
        assert refusal.value.code == "invalid_reason"
    # One refund reverses one bill.
    other = hold_bill(settings, db, user, phone_of(1), 400 * KES)
    deliver(db, other)
    reverse(db, other, refund="SAF-REV-1")
    with pytest.raises(RefundReferenceUsed):
        reverse(db, delivered, refund="SAF-REV-1")
    # A reversed bill is not reversed again under another refund either.
    with pytest.raises(IdempotencyConflict):
        reverse(db, other, refund="SAF-REV-2")
    assert status_of(db, delivered) == "delivered"
    assert balances(db)["wallet"] == before["wallet"]  # the other bill: paid, then refunded
    assert journal_kinds(db, "bill_reversal") == ["bill_reversal"] and check_ledger(db).sound


def test_two_reversals_of_one_bill_at_once_make_one_movement(settings, clean_database, crowd):
    user = jane(settings, crowd)
    airtime_rule(crowd, rate_bp=500, cap=100 * KES)
    fund_promotions(crowd, 1_000 * KES)
    same, other = (hold_bill(settings, crowd, user, phone_of(1), 500 * KES) for _ in range(2))
    deliver(crowd, same)
    deliver(crowd, other)
    outcomes = run_together([lambda: reverse(crowd, same) for _ in range(4)])
    assert all(isinstance(o, reversals.BillReversal) for o in outcomes), outcomes
    assert len({o.transaction_id for o in outcomes}) == 1
    assert sorted(o.replayed for o in outcomes) == [False, True, True, True]
    # Two operators with different refunds at once: one wins, the other is told.
    outcomes = run_together(
        [lambda: reverse(crowd, other, refund="R-A"), lambda: reverse(crowd, other, refund="R-B")]
    )
    assert sum(isinstance(o, reversals.BillReversal) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, IdempotencyConflict) for o in outcomes) == 1, outcomes
    assert journal_kinds(crowd, "bill_reversal") == ["bill_reversal"] * 2
    assert wallet_balance(crowd, user) == START and promotions_balance(crowd) == 1_000 * KES
    assert len(reversal_sms(crowd)) == 2 and check_ledger(crowd).sound


def test_a_cashback_is_returned_once_whichever_reversal_comes_first(settings, clean_database):
    db = clean_database
    user = jane(settings, db)
    airtime_rule(db, rate_bp=1_000, cap=1_000 * KES)
    fund_promotions(db, 1_000 * KES)
    first, second = (hold_bill(settings, db, user, phone_of(1), 100 * KES) for _ in range(2))
    deliver(db, first)
    deliver(db, second)
    [(cashback_1,), (cashback_2,)] = rows(
        db, "SELECT transaction_id FROM cashback_awards ORDER BY id"
    )
    # The cashback reversed on its own first: the bill's reversal returns the whole bill.
    adjustments.reverse(UnitOfWork(db), transaction_id=cashback_1, reason="goodwill undone")
    done = reverse(db, first, refund="R-1")
    assert (done.refunded, done.cashback_returned) == (100 * KES, 0)
    # The bill reversed first: its cashback is not reversed on its own again.
    done = reverse(db, second, refund="R-2")
    assert done.cashback_returned == 10 * KES
    with pytest.raises(NotReversible):
        adjustments.reverse(UnitOfWork(db), transaction_id=cashback_2)
    # Nor is a bill's reversal, or its delivery, reversed as a plain transaction.
    with pytest.raises(NotReversible):
        adjustments.reverse(UnitOfWork(db), transaction_id=done.transaction_id)
    assert wallet_balance(db, user) == START and promotions_balance(db) == 1_000 * KES
    assert check_ledger(db).sound


def test_the_database_keeps_reversed_for_good_and_only_with_its_reversal(settings, clean_database):
    db = clean_database
    user = jane(settings, db)
    bill = hold_bill(settings, db, user, phone_of(1), 100 * KES)
    deliver(db, bill)
    with db.connection() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.CheckViolation):
            cur.execute("UPDATE bill_payments SET status = 'reversed' WHERE reference = %s", [bill])
        conn.rollback()
    reverse(db, bill)
    for change in (
        "status = 'delivered'",
        "receipt = 'R2'",
        "ended_at = now()",
    ):
        with db.connection() as conn, conn.cursor() as cur:
            with pytest.raises(psycopg2.errors.CheckViolation):
                cur.execute(f"UPDATE bill_payments SET {change} WHERE reference = %s", [bill])
            conn.rollback()
    assert status_of(db, bill) == "reversed"
