"""A transaction status answer that reaches PayTrace before PayTrace has recorded the
query it answers (M-Pesa answered while the worker was still writing its question
down) is acted on once the record commits, not dropped as an answer to nothing.

The race is made certain, not hoped for: the Daraja client below returns M-Pesa's
acceptance of a query only once the answer has been stored and processed (a slow
network on the way back). Each checker asks again only after an hour, so an answer
that was dropped would leave the payment open until the end of the test."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest

from app.db.unit_of_work import UnitOfWork
from app.integrations.daraja import Accepted, DarajaClient
from app.services.bills.payments import BillRequest, pay_bill
from app.services.mpesa.payouts import CheckPolicy
from app.services.pins import PinHasher, PinPolicy
from app.worker.bills import PaybillChecker
from app.worker.mpesa import MpesaChecker
from app.worker.mpesa_handlers import CallbackLinks
from tests.security.mpesa_state import fault, outcomes
from tests.security.mpesa_withdrawal_support import KES, PIN, take, with_jane
from tests.support.mpesa import mpesa_rig, rows
from tests.support.wallets import check_ledger

HOUR = 3_600.0


class AnsweredBeforeAccepted:
    """The real client, whose transaction status call returns only after M-Pesa's
    answer to it has reached PayTrace and been processed."""

    def __init__(self, daraja: DarajaClient, database) -> None:
        self._daraja = daraja
        self._database = database
        self.asked: list[str] = []

    def __getattr__(self, name: str):
        return getattr(self._daraja, name)

    def transaction_status(self, **request) -> Accepted:
        accepted = self._daraja.transaction_status(**request)
        self.asked.append(accepted.conversation_id)
        deadline = time.monotonic() + 30
        while not rows(
            self._database,
            "SELECT 1 FROM inbound_callbacks WHERE kind = 'status_result'"
            " AND position(%(id)s in body) > 0 AND outcome <> 'received'",
            id=accepted.conversation_id,
        ):
            assert time.monotonic() < deadline, "M-Pesa's status answer never came"
            time.sleep(0.05)
        return accepted


@pytest.fixture
def rig(live_settings, database, tmp_path):
    with mpesa_rig(live_settings, database, tmp_path, daraja_timeout_s=0.5) as rig:
        rig.daraja = AnsweredBeforeAccepted(DarajaClient.from_settings(rig.settings), database)
        rig.policy = replace(CheckPolicy.from_settings(rig.settings), status_interval_s=HOUR)
        yield with_jane(rig)


def test_a_withdrawals_status_answer_that_came_first_pays_it_out_once(rig):
    rig.checker = MpesaChecker(
        rig.database,
        rig.daraja,
        CallbackLinks.from_settings(rig.settings),
        policy=rig.policy,
        stk_query_after_s=rig.settings.mpesa_stk_query_after_s,
    )
    fault(rig, api="b2c", fault="timeout", after_send=True, delay_s=1.5)
    w = take(rig, 100 * KES)

    rig.until(lambda: rig.withdrawal(w.reference)[0] == "completed")
    rig.settle_for(0.5)

    assert len(rig.daraja.asked) == 1  # one question, its early answer acted on
    assert outcomes(rig, "status_result") == ["paid"]
    assert len(rig.journal("withdrawal_payout")) == 1 and rig.journal("withdrawal_release") == []
    assert check_ledger(rig.database).sound


def test_a_bills_status_answer_that_came_first_delivers_it_once(rig):
    paybill = PaybillChecker(
        rig.database, rig.daraja, CallbackLinks.from_settings(rig.settings), policy=rig.policy
    )
    held = pay_bill(
        UnitOfWork(rig.database),
        PinHasher.from_settings(rig.settings),
        PinPolicy.from_settings(rig.settings),
        BillRequest(rig.user_id, "kplc_prepaid", "12345678901", 500 * KES, uuid.uuid4().hex),
        pin=PIN,
        open_rails=rig.settings.bill_rails,
    )

    def delivered() -> bool:
        paybill.run_once()
        [(status,)] = rows(
            rig.database,
            "SELECT status FROM bill_payments WHERE reference = %(r)s",
            r=held.payment.reference,
        )
        return status == "delivered"

    rig.until(delivered)
    rig.settle_for(0.5)

    assert len(rig.daraja.asked) == 1
    assert outcomes(rig, "status_result") == ["delivered"]
    assert check_ledger(rig.database).sound


def test_an_answer_to_a_query_paytrace_never_asked_stays_unknown(rig):
    """The look for an early answer's query finds none: nothing moves, and no loop."""
    rig.checker = MpesaChecker(
        rig.database,
        DarajaClient.from_settings(rig.settings),
        CallbackLinks.from_settings(rig.settings),
        policy=rig.policy,
        stk_query_after_s=rig.settings.mpesa_stk_query_after_s,
    )
    forged = rig.daraja.transaction_status(
        transaction_id="UKT0000000",
        occasion="nothing",
        result_url=CallbackLinks.from_settings(rig.settings).status_result,
        timeout_url=CallbackLinks.from_settings(rig.settings).status_timeout,
    )
    rig.settle_for(0.5)

    [(outcome, reference)] = rows(
        rig.database,
        "SELECT outcome, reference FROM inbound_callbacks WHERE kind = 'status_result'",
    )
    assert (outcome, reference) == ("unknown_request", forged.conversation_id)
    assert rig.journal("withdrawal_payout") == []
