"""An operator's resolution of a stuck top-up over PostgreSQL, AT asked through the
AirtimeRail port (FakeAirtime, held to the SDK and AT's sandbox by
test_airtime_port_contract.py): delivered only on a transaction AT says topped up this
bill's phone with its amount; never failed while the send may have reached AT."""

from __future__ import annotations

import contextlib

from app.db.unit_of_work import UnitOfWork
from app.integrations.airtime import AirtimeError, Failure, FakeAirtime
from app.services.bills import rail_answers, resolutions
from app.services.bills.rail_evidence import ResolutionRefused
from tests.support.bills import journal_kinds
from tests.support.promotions import hold_bill
from tests.support.wallets import check_ledger, fund, phone_of, register, registration_secrets

KES = 100


def resolve(db, fake: FakeAirtime, reference: str, **body):
    return resolutions.resolve_bill(
        UnitOfWork(db), resolutions.Rails(None, fake), bill_reference=reference, **body
    )


def refused_code(db, fake, reference: str, **body) -> str:
    try:
        resolve(db, fake, reference, **body)
    except ResolutionRefused as exc:
        return exc.code
    raise AssertionError("not refused")


def test_a_top_up_made_but_answered_too_late_is_delivered_once_on_at_s_transaction(
    live_settings, clean_database
):
    db = clean_database
    box, pin_hash = registration_secrets(live_settings)
    user = register(db, box, pin_hash, phone=phone_of(1), name="Jane Wanjiku")
    fund(db, phone_of(1), 1_000 * KES)
    reference = hold_bill(live_settings, db, user, phone_of(1), 200 * KES)
    other = hold_bill(live_settings, db, user, phone_of(1), 50 * KES)
    fake = FakeAirtime()
    fake.script(phone_of(1), AirtimeError(Failure.AMBIGUOUS, "read timeout"))
    with contextlib.suppress(AirtimeError):  # AT tops the phone up; its answer is lost
        fake.send(phone=phone_of(1), amount=200 * KES, idempotency_key=reference)
    made = fake.request_id_for(phone_of(1))
    fake.send(phone=phone_of(2), amount=200 * KES, idempotency_key="someone-else")
    elsewhere = fake.request_id_for(phone_of(2))
    for bill in (reference, other):
        with UnitOfWork(db) as uow:
            rail_answers.topup_unclear(uow, bill, reason="read timeout")
            uow.commit()

    why = "AT says delivered"
    assert refused_code(db, fake, reference, outcome="failed", receipt=None, reason="x") == (
        "rail_may_have_paid"
    )
    assert refused_code(db, fake, reference, outcome="delivered", receipt="ATQid_none",
                        reason=why) == "receipt_not_found"  # fmt: skip
    assert refused_code(db, fake, reference, outcome="delivered", receipt=elsewhere,
                        reason=why) == "receipt_mismatch"  # fmt: skip
    assert refused_code(db, fake, other, outcome="delivered", receipt=made,
                        reason=why) == "receipt_mismatch"  # fmt: skip
    assert journal_kinds(db) == ["bill_hold", "bill_hold"]

    done = resolve(db, fake, reference, outcome="delivered", receipt=made, reason=why)
    assert (done.outcome, done.grounds, done.replayed) == ("delivered", "at_status", False)
    again = resolve(db, fake, reference, outcome="delivered", receipt=made, reason=why)
    assert again.replayed and again.transaction_id == done.transaction_id
    with UnitOfWork(db) as uow:
        p = uow.bill_payments.get(reference)
    assert p is not None and (p.status, p.rail_request_id, p.receipt) == ("delivered", made, made)
    assert journal_kinds(db) == ["bill_hold", "bill_hold", "bill_payment"]
    assert check_ledger(db).sound


def test_a_top_up_whose_send_gave_up_is_never_failed_a_resumed_try_may_have_reached_at(
    live_settings, clean_database
):
    db = clean_database
    box, pin_hash = registration_secrets(live_settings)
    user = register(db, box, pin_hash, phone=phone_of(1), name="Jane Wanjiku")
    fund(db, phone_of(1), 1_000 * KES)
    reference = hold_bill(live_settings, db, user, phone_of(1), 200 * KES)
    # A top-up's send is resumed after a worker died mid-call (AT may have it), then its
    # later tries fail to connect and the row gives up: that proves nothing of the first.
    with db.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE outbox SET status = 'failed', last_error = %s WHERE dedupe_key = %s",
            ("gave up after 3 attempts: connection refused", f"bill:{reference}:send"),
        )
        conn.commit()
    assert refused_code(db, FakeAirtime(), reference, outcome="failed", receipt=None,
                        reason="x") == "rail_may_have_paid"  # fmt: skip
    assert journal_kinds(db) == ["bill_hold"]
