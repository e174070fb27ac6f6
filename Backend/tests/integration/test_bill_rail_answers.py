"""What each of the airtime rail's answers does to a held bill, over PostgreSQL with the
hand-written FakeAirtime (held to the SDK and sandbox by its contract test): only AT's
refusal releases at send time; a send never made is retried as the same top-up; a row
given up after its retries is unknown, never released on that guess; AT's status ends it."""

from __future__ import annotations

import pytest

from app.db.unit_of_work import UnitOfWork
from app.integrations.airtime import AirtimeError, Failure, FakeAirtime
from app.services.bills.rail_answers import status_reported
from app.worker.bill_handlers import AirtimeHandler
from app.worker.bills import BillChecker
from app.worker.handlers import HandlerRegistry, SmsHandler
from app.worker.outbox import OutboxWorker
from tests.support.bills import KES, bills_rig, journal_kinds
from tests.support.wallets import check_ledger

AIRTIME = "airtime_safaricom"
MOTHER = "+254711000201"
NEVER_REACHED = AirtimeError(Failure.RETRYABLE, "connect timeout")


@pytest.fixture
def rig(settings, database):
    rig = bills_rig(settings, database)
    rig.rail = FakeAirtime()
    handlers = HandlerRegistry(SmsHandler(rig.sms), AirtimeHandler(rig.rail, check_after_s=0.0))
    rig.worker = OutboxWorker(database, handlers, max_attempts=2, backoff=lambda n: 0.0)
    rig.checker = BillChecker(database, rig.rail, recheck_s=0.0)
    return rig


def test_a_send_that_never_reached_at_is_retried_as_the_same_top_up(rig):
    rig.rail.script(MOTHER, NEVER_REACHED)
    held = rig.pay(AIRTIME, MOTHER, 10 * KES)
    rig.send_all()
    rig.checker.run_once()
    assert rig.payment(held.payment.reference).status == "delivered"
    assert len(rig.rail.sent) == 1
    assert journal_kinds(rig.database) == ["bill_hold", "bill_payment"]


def test_a_send_given_up_after_its_retries_is_unknown_not_released(rig):
    rig.rail.script(MOTHER, NEVER_REACHED, NEVER_REACHED)
    held = rig.pay(AIRTIME, MOTHER, 10 * KES)
    rig.send_all()
    rig.checker.run_once()
    assert rig.payment(held.payment.reference).status == "unknown"
    assert journal_kinds(rig.database) == ["bill_hold"]
    assert check_ledger(rig.database).sound


def test_a_lost_answer_is_ended_only_by_at_s_status_for_that_top_up(rig):
    rig.rail.script(MOTHER, AirtimeError(Failure.AMBIGUOUS, "read timeout"))
    held = rig.pay(AIRTIME, MOTHER, 10 * KES)
    rig.send_all()
    rig.checker.run_once()  # nothing to ask AT yet: it gave no id
    assert rig.payment(held.payment.reference).status == "unknown"
    # AT's status callback names the top-up; the service asks AT, never believes it.
    request_id = rig.rail.request_id_for(MOTHER)
    assert request_id is not None
    uow = UnitOfWork(rig.database)
    assert status_reported(uow, rig.rail, request_id="ATQid_nobody", recheck_s=0, now=None) == (
        "unverified"
    )
    assert status_reported(uow, rig.rail, request_id=request_id, recheck_s=0, now=None) == (
        "delivered"
    )
    assert status_reported(uow, rig.rail, request_id=request_id, recheck_s=0, now=None) == (
        "unmatched"
    )
    assert journal_kinds(rig.database) == ["bill_hold", "bill_payment"]
    assert check_ledger(rig.database).sound


def test_at_failing_a_top_up_after_sent_releases_it_once(rig):
    rig.rail.script(MOTHER, "failed")
    held = rig.pay(AIRTIME, MOTHER, 10 * KES)
    rig.send_all()
    rig.checker.run_once()
    rig.checker.run_once()
    assert rig.payment(held.payment.reference).status == "failed"
    assert journal_kinds(rig.database) == ["bill_hold", "bill_release"]
    rig.send_all()
    assert sum(held.payment.reference in text for _, text in rig.sms.calls) == 1
