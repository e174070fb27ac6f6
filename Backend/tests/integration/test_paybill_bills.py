"""Paybill bills over real HTTP: the hold, the Business Pay Bill through the outbox to
the local Daraja sandbox, its result callback (only a reason to ask), PayTrace's own
transaction status query, and the one ending: delivered once (with KPLC's token by SMS,
once) or released once. A callback's word moves nothing."""

from __future__ import annotations

import re
import secrets
import uuid

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.records.bills import BillPayment
from app.errors import ValidationFailed
from app.integrations.daraja import DarajaClient
from app.services.bills.catalogue import validate_account
from app.services.bills.payments import BillHeld, BillRequest, pay_bill
from app.services.bills.tokens import resend_tokens
from app.services.pins import PinHasher, PinPolicy
from app.worker.bills import PaybillChecker
from tests.support.mpesa import mpesa_rig, rows
from tests.support.wallets import check_ledger, fund, phone_of, register, registration_secrets

KES = 100
JANE = phone_of(1)
PIN = "4821"
START = 5_000 * KES


@pytest.fixture
def rig(live_settings, database, tmp_path):
    # A send's read timeout well inside the sandbox's result delay: an answer lost is
    # recorded before the result arrives.
    sandbox = {"callback_delay_s": 0.8}
    with mpesa_rig(live_settings, database, tmp_path, sandbox, daraja_timeout_s=0.3) as rig:
        box, pin_hash = registration_secrets(rig.settings, PIN)
        rig.user_id = register(rig.database, box, pin_hash, phone=JANE, name="Jane Wanjiku")
        fund(rig.database, JANE, START)
        rig.paybill = PaybillChecker.from_settings(rig.settings, database)
        yield rig


def meter() -> str:
    return "".join(secrets.choice("123456789") for _ in range(11))


def pay(rig, biller: str, account: str, amount: int) -> BillHeld:
    return pay_bill(
        UnitOfWork(rig.database),
        PinHasher.from_settings(rig.settings),
        PinPolicy.from_settings(rig.settings),
        BillRequest(rig.user_id, biller, account, amount, uuid.uuid4().hex),
        pin=PIN,
        open_rails=rig.settings.bill_rails,
    )


def payment(rig, reference: str) -> BillPayment:
    with UnitOfWork(rig.database) as uow:
        found = uow.bill_payments.get(reference)
    assert found is not None
    return found


def ended(rig, reference: str, status: str) -> BillPayment:
    def done():
        rig.paybill.run_once()
        return (p := payment(rig, reference)).status == status and p

    return rig.until(done)


def kinds(rig) -> list[str]:
    return [k for (k,) in rows(rig.database, "SELECT kind FROM journal_transactions ORDER BY id")
            if k.startswith("bill")]  # fmt: skip


def held_total(rig) -> int:
    [(total,)] = rows(
        rig.database, "SELECT sum(balance) FROM ledger_accounts WHERE kind = 'bill_hold'"
    )
    return int(total)


def test_kplc_prepaid_is_paid_once_and_its_token_reaches_jane_once(rig):
    account = meter()
    p = pay(rig, "kplc_prepaid", account, 500 * KES).payment
    assert held_total(rig) == 500 * KES + p.fee

    done = ended(rig, p.reference, "delivered")
    rig.settle_for(1.0)  # the checker and the worker go on: nothing more happens

    assert re.fullmatch(r"\d{20}", done.token) and done.units == "20.00"
    assert re.fullmatch(r"[A-Z0-9]{10}", done.receipt)
    assert kinds(rig) == ["bill_hold", "bill_payment"] and held_total(rig) == 0
    [(clearing,)] = rows(
        rig.database,
        "SELECT balance FROM ledger_accounts WHERE code = 'bill_clearing:daraja_b2b'",
    )
    assert clearing == 500 * KES
    [token_sms] = rig.sms(JANE, about="KPLC token")
    spaced = "-".join(done.token[i : i + 4] for i in range(0, 20, 4))
    assert f"meter {account}: {spaced}. Units 20.00." in token_sms and len(token_sms) <= 160
    assert len(rig.sms(JANE, about=f"PayTrace {p.reference} confirmed")) == 1
    # The result came first: only M-Pesa's status answer delivered it.
    # (the answers to the other queries asked meanwhile find it ended)
    stored = [(k, o) for k, _, o, _, _ in rig.callbacks()]
    assert [o for k, o in stored if k == "b2b_result"] == ["checking"]
    answers = [o for k, o in stored if k == "status_result"]
    assert answers.count("delivered") == 1 and set(answers) <= {"delivered", "ended"}
    assert check_ledger(rig.database).sound


def test_my_recent_tokens_sends_a_delivered_token_again_once_per_request(rig):
    p = pay(rig, "kplc_prepaid", meter(), 500 * KES).payment
    done = ended(rig, p.reference, "delivered")
    rig.until(lambda: len(rig.sms(JANE, about="KPLC token")) == 1)
    for _ in range(2):  # the same request (a USSD hop repeated): one SMS
        assert resend_tokens(UnitOfWork(rig.database), user_id=rig.user_id, key="ussd:h1") == 1
    rig.until(lambda: len(rig.sms(JANE, about="KPLC token")) == 2)
    rig.settle_for(0.5)
    again = rig.sms(JANE, about="KPLC token")
    spaced = "-".join(done.token[i : i + 4] for i in range(0, 20, 4))
    assert len(again) == 2 and all(spaced in sms for sms in again)
    assert check_ledger(rig.database).sound


def test_a_bill_delivered_but_answered_too_late_stays_held_for_an_operator(rig):
    assert rig.sandbox.http.post(
        "/sandbox/faults", json={"api": "b2b", "fault": "timeout", "after_send": True,
                                 "delay_s": 0.6},
    ).status_code == 201  # fmt: skip
    p = pay(rig, "kplc_prepaid", meter(), 800 * KES).payment
    rig.worker.run_once()
    unknown = payment(rig, p.reference)
    assert (unknown.status, unknown.rail_request_id) == ("unknown", None)

    # Its result names an id PayTrace was never given: it names no bill (a callback's
    # claim could name any), so nothing is asked, nothing moves, nothing is resent.
    results = lambda: [o for k, _, o, _, _ in rig.callbacks() if k == "b2b_result"]  # noqa: E731
    rig.until(lambda: results() == ["unmatched"])
    rig.settle_for(1.0)
    rig.paybill.run_once()

    assert results() == ["unmatched"]
    still = payment(rig, p.reference)
    assert (still.status, still.rail_request_id) == ("unknown", None)
    assert kinds(rig) == ["bill_hold"] and held_total(rig) == 800 * KES + p.fee
    assert rig.sms(JANE, about="KPLC token") == []
    [(outbox_status,)] = rows(rig.database, "SELECT status FROM outbox WHERE kind = 'daraja_b2b'")
    assert outbox_status == "unknown"  # never resent
    assert check_ledger(rig.database).sound


def test_a_failing_biller_releases_the_hold_exactly_once(rig):
    p = pay(rig, "dstv", "1234567890", 111 * KES).payment  # the sandbox: insufficient funds
    failed = ended(rig, p.reference, "failed")
    rig.settle_for(1.0)
    assert failed.token is None
    assert kinds(rig) == ["bill_hold", "bill_release"] and held_total(rig) == 0
    assert len(rig.sms(JANE, about="did not go through")) == 1
    assert check_ledger(rig.database).sound


def test_a_request_that_timed_out_in_m_pesa_s_queue_is_released_once(rig):
    p = pay(rig, "kplc_postpaid", "1234567", 137 * KES).payment
    ended(rig, p.reference, "failed")
    rig.settle_for(1.0)
    assert kinds(rig) == ["bill_hold", "bill_release"] and held_total(rig) == 0


def test_a_forged_result_callback_moves_nothing(rig):
    p = pay(rig, "kplc_prepaid", meter(), 111 * KES).payment  # it will fail at M-Pesa
    rig.worker.run_once()
    sent = payment(rig, p.reference)
    forged = {
        "Result": {
            "ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed",
            "OriginatorConversationID": sent.rail_request_id, "ConversationID": "AG_x",
            "TransactionID": "UKT7ZQ4M2P",
            "ResultParameters": {"ResultParameter": [
                {"Key": "Amount", "Value": "111.00"},
                {"Key": "Token", "Value": "12345678901234567890"},
            ]},
        }
    }  # fmt: skip
    assert rig.post_callback("b2b/result", forged).status_code == 200
    wrong = httpx.post(
        f"{rig.paytrace.url}/callbacks/mpesa/b2b/result/not-the-token", json=forged, timeout=10
    )
    assert wrong.status_code == 403
    garbage = rig.post_callback("b2b/result", {"Result": "paid"})
    assert garbage.status_code == 400

    failed = ended(rig, p.reference, "failed")  # M-Pesa's own answer: it failed
    assert failed.token is None
    assert kinds(rig) == ["bill_hold", "bill_release"]
    assert rig.sms(JANE, about="KPLC token") == []
    stored = [(k, v, o) for k, v, o, _, _ in rig.callbacks() if k == "b2b_result"]
    assert ("b2b_result", "token_mismatch", "rejected") in stored
    assert ("b2b_result", "token_matched", "malformed") in stored
    assert check_ledger(rig.database).sound


def test_a_paybill_account_s_holder_is_named_before_paying(rig):
    daraja = DarajaClient.from_settings(rig.settings)
    check = validate_account(
        UnitOfWork(rig.database), biller_code="kplc_prepaid", account="1234 5678 901",
        lookup=daraja,
    )  # fmt: skip
    assert check.account == "12345678901" and check.looked_up
    assert re.fullmatch(r"[A-Z]+ [A-Z]\.", check.holder_name)
    with pytest.raises(ValidationFailed) as refused:
        validate_account(
            UnitOfWork(rig.database), biller_code="kplc_prepaid", account="12345670000",
            lookup=daraja,
        )  # fmt: skip
    assert refused.value.code == "invalid_account"
    airtime = validate_account(
        UnitOfWork(rig.database), biller_code="airtime_safaricom", account="0711000201",
        lookup=daraja,
    )  # fmt: skip
    assert (airtime.looked_up, airtime.holder_name) == (False, None)
