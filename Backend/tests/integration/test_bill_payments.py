"""Airtime bills over real HTTP: the hold, the top-up through the official AT SDK to the
local AT Airtime sandbox, AT's status callback (verified by asking AT), and the one
ending: delivered once or released once; an unclear answer waits as 'unknown' until AT's
own status ends it. Never charged twice, never a hold lost, one SMS."""

from __future__ import annotations

from datetime import timedelta

import httpx
import psycopg2.errors
import pytest

from app.db.unit_of_work import UnitOfWork
from app.errors import BillerNotFound, BillerUnavailable, IdempotencyConflict, InsufficientFunds
from app.services.bills import payments as bill_payments
from tests.support import seeds
from tests.support.bills import (
    JANE,
    KES,
    balances,
    bills_rig,
    journal_kinds,
    until,
)
from tests.support.wallets import check_ledger

AIRTIME = "airtime_safaricom"
MOTHER = "+254711000201"
FAILS_AT_ONCE, FAILS_LATER, ANSWERS_SLOWLY = "+254711000403", "+254711000410", "+254711000408"
START = 2_000 * KES


@pytest.fixture
def rig(live_server, live_settings, database):
    return bills_rig(live_settings, database, START)


def ended(rig, reference: str, status: str):
    return until(lambda: (p := rig.payment(reference)).status == status and p)


def sms_about(rig, reference: str) -> list[str]:
    """The SMS Jane got about this bill."""
    rig.send_all()
    return [text for number, text in rig.sms.calls if number == JANE and reference in text]


def test_airtime_is_held_at_once_then_delivered_and_charged_once(rig):
    fee = seeds.fee("airtime", 100 * KES)
    held = rig.pay(AIRTIME, "0711 000 201", 100 * KES)
    p = held.payment
    assert (p.status, p.account, p.amount, p.fee) == ("held", MOTHER, 100 * KES, fee)
    assert held.balance == START - 100 * KES - fee
    assert balances(rig.database)["bill_hold"] == 100 * KES + fee

    rig.send_all()  # the top-up; AT's callback then ends it, or the checker does
    rig.checker.run_once()
    done = ended(rig, p.reference, "delivered")
    assert done.receipt == done.rail_request_id and done.receipt.startswith("ATQid_")
    rig.checker.run_once()  # again: nothing more
    assert journal_kinds(rig.database) == ["bill_hold", "bill_payment"]
    after = balances(rig.database)
    assert (after["bill_hold"], after["bill_clearing"]) == (0, 100 * KES)
    [text] = sms_about(rig, p.reference)
    assert done.receipt in text and "Airtime Safaricom +2547****0201" in text
    assert check_ledger(rig.database).sound


def test_at_refusing_a_top_up_releases_the_hold_once(rig):
    held = rig.pay(AIRTIME, FAILS_AT_ONCE, 50 * KES)
    rig.send_all()
    rig.checker.run_once()
    failed = ended(rig, held.payment.reference, "failed")
    assert failed.rail_request_id is None
    assert journal_kinds(rig.database) == ["bill_hold", "bill_release"]
    assert balances(rig.database)["bill_hold"] == 0
    [text] = sms_about(rig, held.payment.reference)
    assert "back in your wallet" in text
    # Released, it no longer counts against today's limits.
    assert rig.pay(AIRTIME, MOTHER, 50 * KES).balance == START - 50 * KES
    assert check_ledger(rig.database).sound


def test_a_top_up_at_fails_later_is_released_once_on_at_s_status(rig):
    held = rig.pay(AIRTIME, FAILS_LATER, 20 * KES)
    rig.send_all()
    rig.checker.run_once()
    ended(rig, held.payment.reference, "failed")
    rig.checker.run_once()
    assert journal_kinds(rig.database) == ["bill_hold", "bill_release"]
    assert len(sms_about(rig, held.payment.reference)) == 1
    assert check_ledger(rig.database).sound


def test_a_top_up_made_but_answered_too_late_is_unknown_then_delivered_once(rig):
    held = rig.pay(AIRTIME, ANSWERS_SLOWLY, 100 * KES)
    rig.send_all()
    unknown = rig.payment(held.payment.reference)
    # The read timed out: AT may have it; nothing is released on that guess.
    assert (unknown.status, unknown.rail_request_id) == ("unknown", None)
    assert journal_kinds(rig.database) == ["bill_hold"]
    # AT's status callback names the top-up; PayTrace asks AT, and AT says delivered.
    done = ended(rig, held.payment.reference, "delivered")
    rig.checker.run_once()
    rig.send_all()  # the outbox row stays 'unknown': never resent
    assert journal_kinds(rig.database) == ["bill_hold", "bill_payment"]
    assert len(sms_about(rig, held.payment.reference)) == 1 and done.receipt
    assert check_ledger(rig.database).sound


def test_the_same_key_pays_once_and_another_request_with_it_is_refused(rig):
    first = rig.pay(AIRTIME, MOTHER, 100 * KES, key="k-1")
    again = rig.pay(AIRTIME, MOTHER, 100 * KES, key="k-1")
    assert again.replayed and again.payment.reference == first.payment.reference
    with pytest.raises(IdempotencyConflict):
        rig.pay(AIRTIME, MOTHER, 200 * KES, key="k-1")
    assert journal_kinds(rig.database) == ["bill_hold"]


def test_a_paybill_biller_is_refused_before_anything_is_held(rig):
    kplc = seeds.biller("kplc_prepaid")
    with pytest.raises(BillerUnavailable):
        rig.pay(kplc.code, "1" * kplc.rule.min_length, kplc.min_amount)
    with pytest.raises(InsufficientFunds):
        rig.pay(AIRTIME, MOTHER, seeds.biller(AIRTIME).max_amount)
    assert journal_kinds(rig.database) == [] and check_ledger(rig.database).sound


@pytest.mark.parametrize("code", ["airtime_safaricom\x00", "\x00", "AIRTIME_SAFARICOM", "a" * 33])
def test_a_biller_code_no_biller_can_have_is_no_such_biller_and_nothing_is_held(rig, code):
    """Caught by fuzzing the API: a NUL in the code reached PostgreSQL (which refuses it
    in any string) and answered 500."""
    with pytest.raises(BillerNotFound):
        rig.pay(code, MOTHER, 100 * KES)
    assert journal_kinds(rig.database) == []


def test_a_forged_status_callback_moves_nothing(rig, live_server):
    held = rig.pay(AIRTIME, FAILS_LATER, 100 * KES)
    rig.send_all()
    reference = held.payment.reference
    url = live_server.url + "/callbacks/at/airtime-status"
    forged = {"requestId": "ATQid_forged", "status": "Success", "phoneNumber": FAILS_LATER}
    forged |= {"value": "KES 100.0000", "description": "Airtime Delivered Successfully"}
    answer = httpx.post(url, data=forged)
    assert answer.json() == {"status": "unverified"}
    # A callback claiming success for the real top-up: AT says it failed, so it failed.
    real = rig.payment(reference).rail_request_id or ""
    httpx.post(url, data=forged | {"requestId": real})
    assert ended(rig, reference, "failed")
    assert journal_kinds(rig.database) == ["bill_hold", "bill_release"]
    assert httpx.post(url, data={"status": "Success"}).status_code == 400
    assert check_ledger(rig.database).sound


def test_the_database_refuses_a_second_ending(rig):
    held = rig.pay(AIRTIME, MOTHER, 10 * KES)
    rig.send_all()
    rig.checker.run_once()
    ended(rig, held.payment.reference, "delivered")
    refused = pytest.raises(psycopg2.errors.CheckViolation)
    with refused, rig.database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE bill_payments SET status = 'failed' WHERE reference = %(r)s",
            {"r": held.payment.reference},
        )


def test_the_billers_tests_read_are_what_postgresql_holds(clean_database):
    with UnitOfWork(clean_database) as uow:
        assert uow.billers.active() == list(seeds.billers())


def test_bills_the_worker_will_not_end_are_listed_for_an_operator(rig, live_server):
    admin = {"Authorization": f"Bearer {rig.settings.admin_token.get_secret_value()}"}
    url = f"{live_server.url}/api/v1/admin/bills/needing-operator"
    held = rig.pay(AIRTIME, MOTHER, 100 * KES).payment
    # Held a moment ago, its top-up queued: the worker will end it. Not listed.
    assert httpx.get(url, headers=admin, timeout=10).json() == {"items": []}
    # Still held a day later, whatever the worker plans: listed.
    later = held.created_at + bill_payments.STUCK_AFTER + timedelta(minutes=1)
    stale = bill_payments.bills_needing_an_operator(UnitOfWork(rig.database), 10, now=later)
    assert [b.reference for b in stale] == [held.reference]
    # Unknown with nothing left to ask the rail (no check due): listed at once.
    with UnitOfWork(rig.database) as uow:
        uow.bill_payments.mark_unknown(held.id, failure="answer lost")
        uow.commit()
    (item,) = httpx.get(url, headers=admin, timeout=10).json()["items"]
    assert (item["reference"], item["status"], item["amount"]) == (
        held.reference, "unknown", 100 * KES,
    )  # fmt: skip
    assert item["failure"] == "answer lost" and item["next_check_at"] is None
    assert httpx.get(url, timeout=10).status_code == 401
    assert balances(rig.database)["bill_hold"] > 0  # listing moves nothing
