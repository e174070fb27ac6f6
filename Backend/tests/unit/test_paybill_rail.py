"""The Paybill rail's pure parts: what a B2B notice and a status answer are read as (a
token only in its own form), the token SMS (GSM-7, one part, both languages), and what
the outbox handler makes of each of Daraja's answers (a B2B is never sent twice)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.gsm7 import GSM7_CHARS
from app.domain.records.admin import OutboxRow
from app.integrations.daraja import DarajaError, Failure
from app.integrations.daraja_fake import FakeDaraja, bad_request, no_answer, system_busy
from app.integrations.daraja_payloads import (
    MalformedPayload,
    biller_items,
    parse_b2b_notice,
)
from app.services.bills.endings import spaced_token
from app.services.sms_texts import render_sms
from app.worker.bill_handlers import REFUSED, PaybillHandler
from app.worker.handlers import Verdict
from app.worker.mpesa_handlers import CallbackLinks

TOKEN = "12345678901234567890"


def result(**extra) -> dict:
    body = {
        "ResultType": 0,
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "OriginatorConversationID": "12345-67890123-1",
        "ConversationID": "AG_20261204_0000abc",
        "TransactionID": "UL4AB12CDE",
        "ResultParameters": {
            "ResultParameter": [
                {"Key": "Amount", "Value": "500.00"},
                {"Key": "Token", "Value": TOKEN},
                {"Key": "Units", "Value": "20.00"},
                {"Key": "BillReferenceNumber", "Value": "14523678901"},
            ]
        },
        "ReferenceData": {
            "ReferenceItem": [
                {"Key": "BillReferenceNumber", "Value": "14523678901"},
                {"Key": "QueueTimeoutURL", "Value": "https://x/timeout"},
            ]
        },
    }
    return {"Result": body | extra}


def test_a_b2b_result_names_its_request_account_and_amount():
    seen = parse_b2b_notice(result())
    assert (seen.originator_conversation_id, seen.account, seen.amount) == (
        "12345-67890123-1",
        "14523678901",
        50_000,
    )


def test_a_queue_timeout_notice_names_only_its_request():
    seen = parse_b2b_notice(result(ResultParameters=None, ReferenceData=None))
    assert (seen.account, seen.amount) == (None, None)


@pytest.mark.parametrize("body", [{}, {"Result": "paid"}, {"Result": {"ResultCode": 0}}])
def test_a_body_daraja_never_sends_is_malformed(body):
    with pytest.raises(MalformedPayload):
        parse_b2b_notice(body)


def test_a_token_is_read_only_in_its_own_form():
    assert biller_items(result()).token == TOKEN
    odd = result(
        ResultParameters={
            "ResultParameter": [
                {"Key": "Token", "Value": "1234 5678"},
                {"Key": "Units", "Value": "many"},
            ]
        }
    )
    items = biller_items(odd)
    assert (items.token, items.units, items.account) == (None, None, None)
    assert biller_items({"Result": []}).token is None


@pytest.mark.parametrize("language", ["en", "sw"])
def test_the_token_sms_is_one_gsm7_part(language):
    text = render_sms(
        "bill_token",
        language,
        reference="K7QX2M9PLA",
        account="1452367890123",
        token=spaced_token(TOKEN),
        units="1400.00",
    )
    assert len(text) <= 160 and set(text) <= set(GSM7_CHARS)
    assert "1234-5678-9012-3456-7890" in text


def row(**payload) -> OutboxRow:
    base = {
        "bill": "K7QX2M9PLA",
        "paybill": "888880",
        "account": "14523678901",
        "amount": 50_000,
        "requester": "254712345678",
    }
    return OutboxRow(
        1, "daraja_b2b", base | payload, 0, "bill:K7QX2M9PLA:send", "sending",
        datetime.now(UTC), None,
    )  # fmt: skip


def handler(daraja: FakeDaraja) -> PaybillHandler:
    return PaybillHandler(daraja, CallbackLinks("https://pay.example", "t0k"), result_wait_s=60)


def test_a_bill_is_paid_in_whole_shillings_to_the_biller_s_paybill():
    daraja = FakeDaraja()
    outcome = handler(daraja).perform(row())
    assert outcome.verdict is Verdict.DONE
    [(api, sent)] = daraja.calls
    assert api == "pay_bill"
    assert (sent["paybill"], sent["account"], sent["amount"]) == ("888880", "14523678901", 500)
    assert sent["result_url"] == "https://pay.example/callbacks/mpesa/b2b/result/t0k"


@pytest.mark.parametrize(
    ("error", "verdict", "result"),
    [
        (bad_request(), Verdict.FAILED, REFUSED),  # refused as sent: released
        (no_answer(), Verdict.UNKNOWN, None),  # it may have been paid
        (system_busy(), Verdict.UNKNOWN, None),
        (DarajaError(Failure.RETRYABLE, "busy", status=503), Verdict.UNKNOWN, None),
        (DarajaError(Failure.RETRYABLE, "not connected: ConnectError"), Verdict.RETRY, None),
    ],
)
def test_what_each_answer_means_for_the_bill(error, verdict, result):
    daraja = FakeDaraja()
    daraja.fail("pay_bill", error)
    outcome = handler(daraja).perform(row())
    assert (outcome.verdict, outcome.result) == (verdict, result)


def test_a_payload_the_handler_cannot_read_is_never_sent():
    daraja = FakeDaraja()
    assert handler(daraja).perform(row(amount="500")).verdict is Verdict.UNKNOWN
    assert daraja.calls == []
