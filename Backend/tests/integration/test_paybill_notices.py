"""What a Paybill bill's notices and M-Pesa's status answers may do to a bill whose
send's answer was lost (`unknown`), over PostgreSQL: a result callback is only a
reason to ask about an id PayTrace holds, never a way to name a bill, and "no such
transaction" never releases a bill M-Pesa may have paid."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.bills import AT_AIRTIME, DARAJA_B2B
from app.domain.records.bills import BillPayment
from app.integrations.daraja_payloads import BillerItems, BillNotice, PaymentOutcome, Verdict
from app.services.bills import b2b_answers
from app.services.bills.payments import BillRequest, pay_bill
from app.services.pins import PinHasher, PinPolicy
from tests.support.bills import KES, PIN, bills_rig, journal_kinds
from tests.support.wallets import check_ledger

METER = "12345678901"
AMOUNT = 500 * KES
RELEASE_AFTER = 3
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def rig(settings, database):
    return bills_rig(settings, database)


def held_paybill(rig) -> BillPayment:
    held = pay_bill(
        UnitOfWork(rig.database),
        PinHasher.from_settings(rig.settings),
        PinPolicy.from_settings(rig.settings),
        BillRequest(rig.user_id, "kplc_prepaid", METER, AMOUNT, uuid.uuid4().hex),
        pin=PIN,
        open_rails=(AT_AIRTIME, DARAJA_B2B),
    )
    return held.payment


def lost_answer(rig, p: BillPayment) -> None:
    """The send reached M-Pesa but its answer never came: unknown, no rail id."""
    with UnitOfWork(rig.database) as uow:
        uow.bill_payments.mark_unknown(p.id, failure="read timeout")
        uow.commit()


def stored_callback(rig, kind: str = "b2b_result") -> int:
    with UnitOfWork(rig.database) as uow:
        callback_id = uow.callbacks.record(
            provider="mpesa", kind=kind, path=f"/callbacks/mpesa/{kind}", query=None,
            content_type="application/json", body="{}", verification="token_matched",
        )  # fmt: skip
        uow.commit()
    return callback_id


def not_found_answer(rig, p: BillPayment, n: int) -> str:
    """PayTrace asks M-Pesa about p (by the rail id it holds); M-Pesa: no such
    transaction."""
    query = f"AG_query_{p.id}_{n}"
    b2b_answers.status_asked(
        UnitOfWork(rig.database), p.reference, conversation_id=query, recheck_s=0, now=NOW
    )
    answer = PaymentOutcome(
        Verdict.NOT_FOUND, "status_result", "R000002", "No such transaction",
        originator_conversation_id=p.rail_request_id, query_conversation_id=query,
    )  # fmt: skip
    return b2b_answers.settle(
        UnitOfWork(rig.database),
        stored_callback(rig, "status_result"),
        answer,
        BillerItems(None, None, None),
        release_after_not_found=RELEASE_AFTER,
        recheck_s=0,
        now=NOW,
    )


def test_a_result_naming_an_id_paytrace_never_sent_names_no_bill(rig):
    p = held_paybill(rig)
    lost_answer(rig, p)
    # Anyone who can reach the callback URL can claim a result for this meter and
    # amount under an id of their choosing.
    claimed = BillNotice("AG_20260601_claimed", account=METER, amount=AMOUNT)
    outcome = b2b_answers.notice(UnitOfWork(rig.database), stored_callback(rig), claimed, now=NOW)

    assert outcome == "unmatched"
    after = rig.payment(p.reference)
    assert (after.status, after.rail_request_id) == ("unknown", None)
    assert journal_kinds(rig.database) == ["bill_hold"]


def test_no_such_transaction_never_releases_a_bill_whose_send_was_unclear(rig):
    p = held_paybill(rig)
    lost_answer(rig, p)
    # A rail id written on an unknown bill (as a callback's claim once did): what M-Pesa
    # says about it proves nothing about the bill's own request.
    with UnitOfWork(rig.database) as uow:
        uow.bill_payments.mark_sent(p.id, request_id="AG_20260601_claimed", check_after=NOW)
        uow.commit()
    p = rig.payment(p.reference)

    outcomes = [not_found_answer(rig, p, n) for n in range(RELEASE_AFTER + 1)]

    assert set(outcomes) == {"not_found"}
    after = rig.payment(p.reference)
    assert after.status == "unknown"
    assert journal_kinds(rig.database) == ["bill_hold"]
    # Nothing left to ask: it is an operator's (listed with the bills needing one).
    with UnitOfWork(rig.database) as uow:
        waiting = uow.bill_payments.needing_operator(stale_before=NOW - timedelta(days=1), limit=10)
    assert [w.reference for w in waiting] == [p.reference]
    assert check_ledger(rig.database).sound


def test_no_such_transaction_for_paytrace_s_own_accepted_request_releases_once(rig):
    p = held_paybill(rig)
    with UnitOfWork(rig.database) as uow:  # Daraja accepted it under this id
        uow.bill_payments.mark_sent(p.id, request_id="AG_20260601_accepted", check_after=NOW)
        uow.commit()
    p = rig.payment(p.reference)

    outcomes = [not_found_answer(rig, p, n) for n in range(RELEASE_AFTER)]

    assert outcomes == ["not_found"] * (RELEASE_AFTER - 1) + ["failed"]
    assert rig.payment(p.reference).status == "failed"
    assert journal_kinds(rig.database) == ["bill_hold", "bill_release"]
    assert check_ledger(rig.database).sound
