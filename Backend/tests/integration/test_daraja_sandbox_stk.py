"""STK push and query on the local Daraja sandbox over real HTTP: each scenario's
callback, duplicate and missing callbacks, query answers, refusals, restarts."""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime

import pytest

from app.sandboxes.daraja.identifiers import EAT
from tests.support.daraja import DarajaClient, daraja_sandbox, items

QUIET_S = 0.5  # well past the 0.1 s callback delay: what has not come will not


@pytest.fixture
def path() -> str:
    """A callback path of the test's own (the receiver serves every test)."""
    return f"/mpesa/stk/{secrets.token_hex(4)}"


def push(daraja: DarajaClient, receiver, path: str, phone: str, amount: int) -> dict:
    answer = daraja.stk_push(phone, amount, receiver.url(path))
    assert answer.status_code == 200, answer.text
    return answer.json()


def callback(body: dict) -> dict:
    return body["Body"]["stkCallback"]


def test_an_accepted_push_answers_as_daraja_does(daraja, receiver, path, phone):
    accepted = push(daraja, receiver, path, phone, 100)
    assert accepted["ResponseCode"] == "0"
    assert accepted["ResponseDescription"] == "Success. Request accepted for processing"
    assert accepted["CustomerMessage"] == "Success. Request accepted for processing"
    assert re.fullmatch(r"\d{5}-\d{8}-1", accepted["MerchantRequestID"])
    assert re.fullmatch(r"ws_CO_\d{17}" + phone[-9:], accepted["CheckoutRequestID"])


def test_a_paid_push_calls_back_with_amount_receipt_date_and_phone(daraja, receiver, path, phone):
    accepted = push(daraja, receiver, path, phone, 100)
    [body] = receiver.wait_for(path)
    got = callback(body)
    assert got["MerchantRequestID"] == accepted["MerchantRequestID"]
    assert got["CheckoutRequestID"] == accepted["CheckoutRequestID"]
    assert (got["ResultCode"], got["ResultDesc"]) == (
        0,
        "The service request is processed successfully.",
    )
    metadata = items(body)
    assert metadata["Amount"] == 100
    assert metadata["PhoneNumber"] == int(phone)
    assert re.fullmatch(r"[A-Z0-9]{10}", metadata["MpesaReceiptNumber"])
    assert "Balance" in metadata and metadata["Balance"] is None  # a Name with no Value
    paid_at = datetime.strptime(str(metadata["TransactionDate"]), "%Y%m%d%H%M%S")
    assert abs(paid_at.replace(tzinfo=EAT).timestamp() - time.time()) < 60


@pytest.mark.parametrize(
    ("amount", "code", "desc"),
    [
        (132, 1032, "Request cancelled by user"),
        (137, 1037, "DS timeout user cannot be reached"),
        (101, 2001, "The initiator information is invalid."),
        (111, 1, "The balance is insufficient for the transaction."),
    ],
)
def test_a_failed_push_calls_back_its_code_and_no_metadata(
    daraja, receiver, path, phone, amount, code, desc
):
    accepted = push(daraja, receiver, path, phone, amount)
    [body] = receiver.wait_for(path)
    got = callback(body)
    assert got == {
        "MerchantRequestID": accepted["MerchantRequestID"],
        "CheckoutRequestID": accepted["CheckoutRequestID"],
        "ResultCode": code,
        "ResultDesc": desc,
    }


@pytest.mark.parametrize(
    ("result", "code"),
    [
        ("success", 0),
        ("cancelled", 1032),
        ("timeout", 1037),
        ("wrong_pin", 2001),
        ("insufficient_funds", 1),
    ],
)
def test_a_phone_rule_chooses_the_result_whatever_the_amount(
    daraja, receiver, path, phone, result, code
):
    daraja.scenario(phone=phone, result=result)
    push(daraja, receiver, path, phone, 132)  # an amount that would be cancelled
    [body] = receiver.wait_for(path)
    assert callback(body)["ResultCode"] == code


def test_an_amount_rule_applies_to_every_phone_until_removed(daraja, receiver, path, phone):
    rule = daraja.scenario(amount=250, result="insufficient_funds")
    push(daraja, receiver, path, phone, 250)
    assert callback(receiver.wait_for(path)[0])["ResultCode"] == 1
    assert daraja.http.delete(f"/sandbox/scenarios/{rule['id']}").status_code == 204
    push(daraja, receiver, path, phone, 250)
    assert callback(receiver.wait_for(path, 2)[1])["ResultCode"] == 0


def test_a_phone_rule_beats_an_amount_rule(daraja, receiver, path, phone):
    daraja.scenario(phone=phone, result="timeout")
    daraja.scenario(amount=300, result="cancelled")
    push(daraja, receiver, path, phone, 300)
    assert callback(receiver.wait_for(path)[0])["ResultCode"] == 1037


def test_a_duplicated_callback_arrives_twice_identical(daraja, receiver, path, phone):
    accepted = push(daraja, receiver, path, phone, 198)
    first, second = receiver.wait_for(path, 2)
    assert first == second
    assert callback(first)["ResultCode"] == 0
    sent = daraja.delivered(accepted["CheckoutRequestID"], 2)
    assert [(s["kind"], s["status_code"]) for s in sent] == [("stk_callback", 200)] * 2
    time.sleep(QUIET_S)
    assert len(receiver.received(path)) == 2


def test_a_rule_can_duplicate_a_cancellation(daraja, receiver, path, phone):
    daraja.scenario(phone=phone, result="cancelled", callback="duplicate")
    push(daraja, receiver, path, phone, 100)
    assert [callback(body)["ResultCode"] for body in receiver.wait_for(path, 2)] == [1032, 1032]


def test_a_missing_callback_is_settled_by_the_query(daraja, receiver, path, phone):
    accepted = push(daraja, receiver, path, phone, 199)
    time.sleep(QUIET_S)
    assert receiver.received(path) == []
    assert daraja.callbacks(accepted["CheckoutRequestID"]) == []
    answer = daraja.stk_query(accepted["CheckoutRequestID"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["ResultCode"] == "0"


def test_the_query_says_processing_until_the_customer_answers(tmp_path, receiver, phone):
    with daraja_sandbox(tmp_path, callback_delay_s=0.6) as server:
        daraja = DarajaClient(server.url)
        accepted = daraja.stk_push(phone, 132, receiver.url("/slow")).json()
        early = daraja.stk_query(accepted["CheckoutRequestID"])
        assert early.status_code == 500
        assert early.json()["errorCode"] == "500.001.1001"
        assert early.json()["errorMessage"] == "The transaction is being processed"
        receiver.wait_for("/slow")
        late = daraja.stk_query(accepted["CheckoutRequestID"])
    assert late.status_code == 200
    assert late.json() == {
        "ResponseCode": "0",
        "ResponseDescription": "The service request has been accepted successsfully",
        "MerchantRequestID": accepted["MerchantRequestID"],
        "CheckoutRequestID": accepted["CheckoutRequestID"],
        "ResultCode": "1032",
        "ResultDesc": "Request cancelled by user",
    }


@pytest.mark.parametrize(("amount", "code"), [(100, "0"), (137, "1037"), (111, "1")])
def test_the_query_answers_what_the_callback_said(daraja, receiver, path, phone, amount, code):
    accepted = push(daraja, receiver, path, phone, amount)
    [body] = receiver.wait_for(path)
    answer = daraja.stk_query(accepted["CheckoutRequestID"]).json()
    assert answer["ResultCode"] == code == str(callback(body)["ResultCode"])
    assert answer["ResultDesc"] == callback(body)["ResultDesc"]


def test_a_query_for_an_unknown_checkout_request_is_refused(daraja):
    answer = daraja.stk_query("ws_CO_01012024000000000712345678")
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "400.002.02"
    assert answer.json()["errorMessage"] == "Bad Request - Invalid CheckoutRequestID"


def test_a_callback_the_receiver_refuses_is_recorded_and_not_sent_again(
    daraja, receiver, path, phone
):
    receiver.answer(path, 500)
    accepted = push(daraja, receiver, path, phone, 100)
    receiver.wait_for(path)
    time.sleep(QUIET_S)
    assert len(receiver.received(path)) == 1
    [sent] = daraja.callbacks(accepted["CheckoutRequestID"])
    assert sent["status_code"] == 500 and sent["error"] is None and sent["sent_at"]


def test_a_callback_nobody_receives_is_recorded_with_its_error(daraja, phone, path):
    unreachable = f"http://127.0.0.1:1{path}"
    accepted = daraja.stk_push(phone, 100, unreachable).json()
    deadline = time.monotonic() + 5
    while not (sent := daraja.callbacks(accepted["CheckoutRequestID"]))[0]["error"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert sent[0]["status_code"] is None
    assert sent[0]["error"].startswith("ConnectError")
    assert sent[0]["url"] == unreachable


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"Amount": 0}, "Amount"),
        ({"Amount": "1.5"}, "Amount"),
        ({"Amount": 10.5}, "Amount"),
        ({"Amount": 250_001}, "Amount"),
        ({"Amount": None}, "Amount"),
        ({"PhoneNumber": "0712345678"}, "PhoneNumber"),
        ({"PhoneNumber": "+254712345678"}, "PhoneNumber"),
        ({"PartyA": ""}, "PartyA"),
        ({"PartyB": "abc"}, "PartyB"),
        ({"CallBackURL": "not a url"}, "CallBackURL"),
        ({"CallBackURL": "ftp://example.com/cb"}, "CallBackURL"),
        ({"AccountReference": "ACCOUNT-REF-13"}, "AccountReference"),
        ({"AccountReference": ""}, "AccountReference"),
        ({"TransactionDesc": "fourteen chars"}, "TransactionDesc"),
        ({"TransactionType": "CustomerSendMoney"}, "TransactionType"),
        ({"Timestamp": "2024"}, "Timestamp"),
        ({"Timestamp": "20241340120000"}, "Timestamp"),
    ],
)
def test_a_bad_field_is_refused_by_name(daraja, receiver, phone, override, field):
    answer = daraja.stk_push(phone, 10, receiver.url("/never"), **override)
    assert answer.status_code == 400, answer.text
    assert answer.json()["errorCode"] == "400.002.02"
    assert answer.json()["errorMessage"] == f"Bad Request - Invalid {field}"


def test_a_missing_field_is_refused_by_name(daraja, receiver, phone):
    body = daraja.stk_body(phone, 10, receiver.url("/never"))
    del body["CallBackURL"]
    answer = daraja.post("/mpesa/stkpush/v1/processrequest", body)
    assert answer.json()["errorMessage"] == "Bad Request - Invalid CallBackURL"


def test_amounts_and_phones_may_be_numbers_or_strings(daraja, receiver, path, phone):
    answer = daraja.stk_push(
        phone, 10, receiver.url(path), Amount="10", PhoneNumber=int(phone), PartyA=int(phone)
    )
    assert answer.status_code == 200, answer.text
    assert items(receiver.wait_for(path)[0])["Amount"] == 10


def test_a_body_that_is_not_json_is_refused(daraja):
    answer = daraja.http.post(
        "/mpesa/stkpush/v1/processrequest",
        content=b"BusinessShortCode=174379",
        headers={"Authorization": f"Bearer {daraja.token()}"},
    )
    assert answer.status_code == 400
    assert answer.json()["errorMessage"] == "Bad Request - Invalid JSON"


def test_scenario_rules_are_listed_with_the_defaults(daraja, phone):
    rule = daraja.scenario(phone=phone, result="timeout", callback="none", api="stk")
    listed = daraja.http.get("/sandbox/scenarios").json()
    assert listed["rules"] == [rule]
    expected = {"phone": phone, "result": "timeout", "callback": "none", "api": "stk"}
    assert rule == {"id": rule["id"], **expected}
    endings = {d["amount_ends_with"]: d["result"] for d in listed["defaults"]["by_last_two_digits"]}
    assert endings == {
        "01": "wrong_pin",
        "11": "insufficient_funds",
        "32": "cancelled",
        "37": "timeout",
        "98": "success",
        "99": "success",
    }


@pytest.mark.parametrize(
    "body", [{"result": "cancelled"}, {"amount": 5, "result": "lost"}, "not json"]
)
def test_a_scenario_the_sandbox_cannot_follow_is_refused(daraja, body):
    if isinstance(body, str):
        answer = daraja.http.post("/sandbox/scenarios", content=body.encode())
    else:
        answer = daraja.http.post("/sandbox/scenarios", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_scenario"


def test_removing_a_rule_that_does_not_exist_says_so(daraja):
    assert daraja.http.delete("/sandbox/scenarios/999999").status_code == 404


def test_pushes_rules_and_queries_survive_a_restart(tmp_path, receiver, phone, path):
    with daraja_sandbox(tmp_path) as server:
        daraja = DarajaClient(server.url)
        daraja.scenario(phone=phone, result="cancelled")
        accepted = push(daraja, receiver, path, phone, 100)
        receiver.wait_for(path)
    with daraja_sandbox(tmp_path) as server:
        daraja = DarajaClient(server.url)
        assert daraja.stk_query(accepted["CheckoutRequestID"]).json()["ResultCode"] == "1032"
        push(daraja, receiver, path, phone, 100)
        assert callback(receiver.wait_for(path, 2)[1])["ResultCode"] == 1032


def test_a_callback_due_while_the_sandbox_was_down_is_sent_when_it_is_back(
    tmp_path, receiver, phone, path
):
    with daraja_sandbox(tmp_path, callback_delay_s=0.8) as server:
        accepted = push(DarajaClient(server.url), receiver, path, phone, 100)
    time.sleep(1.0)
    assert receiver.received(path) == []
    with daraja_sandbox(tmp_path) as server:
        [body] = receiver.wait_for(path)
        assert callback(body)["CheckoutRequestID"] == accepted["CheckoutRequestID"]
