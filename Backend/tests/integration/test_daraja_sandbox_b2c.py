"""B2C payments and transaction status on the local Daraja sandbox over real HTTP:
result and queue-timeout notices, duplicates, missing results settled by a status
query, and refusals."""

from __future__ import annotations

import re
import secrets
import time
import uuid

import pytest

from tests.support.daraja import (
    CallbackReceiver,
    DarajaClient,
    daraja_sandbox,
    items,
    parameters,
)

QUIET_S = 0.5


class Urls:
    """The test's own ResultURL, QueueTimeOutURL and status ResultURL paths."""

    def __init__(self, receiver: CallbackReceiver) -> None:
        tag = secrets.token_hex(4)
        self.result, self.timeout = f"/b2c/{tag}/result", f"/b2c/{tag}/timeout"
        self.status, self.status_timeout = f"/status/{tag}/result", f"/status/{tag}/timeout"
        self.receiver = receiver

    def __call__(self, path: str) -> str:
        return self.receiver.url(path)


@pytest.fixture
def urls(receiver) -> Urls:
    return Urls(receiver)


def pay(daraja: DarajaClient, urls: Urls, phone: str, amount: int, **overrides) -> dict:
    answer = daraja.b2c(phone, amount, urls(urls.result), urls(urls.timeout), **overrides)
    assert answer.status_code == 200, answer.text
    return answer.json()


def ask_status(daraja: DarajaClient, receiver, urls: Urls, **lookup: str) -> dict:
    answer = daraja.status(urls(urls.status), urls(urls.status_timeout), **lookup)
    assert answer.status_code == 200, answer.text
    accepted = answer.json()
    assert accepted["ResponseCode"] == "0"
    [result] = receiver.wait_for(urls.status)
    assert result["Result"]["ConversationID"] == accepted["ConversationID"]
    assert result["Result"]["OriginatorConversationID"] == accepted["OriginatorConversationID"]
    return result


def test_an_accepted_payment_answers_with_both_conversation_ids(daraja, urls, phone):
    originator = str(uuid.uuid4())
    accepted = pay(daraja, urls, phone, 500, OriginatorConversationID=originator)
    assert accepted["OriginatorConversationID"] == originator
    assert re.fullmatch(r"AG_\d{8}_0000[0-9a-f]{16}", accepted["ConversationID"])
    assert accepted["ResponseCode"] == "0"
    assert accepted["ResponseDescription"] == "Accept the service request successfully."


def test_a_paid_b2c_posts_its_result_with_the_receipt(daraja, receiver, urls, phone):
    accepted = pay(daraja, urls, phone, 500)
    [result] = receiver.wait_for(urls.result)
    body = result["Result"]
    assert body["ResultType"] == 0
    assert (body["ResultCode"], body["ResultDesc"]) == (
        0,
        "The service request is processed successfully.",
    )
    assert body["OriginatorConversationID"] == accepted["OriginatorConversationID"]
    assert body["ConversationID"] == accepted["ConversationID"]
    assert re.fullmatch(r"[A-Z0-9]{10}", body["TransactionID"])
    params = parameters(result)
    assert params["TransactionAmount"] == 500
    assert params["TransactionReceipt"] == body["TransactionID"]
    assert params["ReceiverPartyPublicName"].startswith(phone + " - ")
    assert params["B2CRecipientIsRegisteredCustomer"] == "Y"
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d", params["TransactionCompletedDateTime"])
    assert body["ReferenceData"]["ReferenceItem"] == {
        "Key": "QueueTimeoutURL",
        "Value": urls(urls.timeout),
    }
    time.sleep(QUIET_S)
    assert receiver.received(urls.timeout) == []


@pytest.mark.parametrize(
    ("amount", "code", "desc"),
    [
        (111, 1, "The balance is insufficient for the transaction."),
        (101, 2001, "The initiator information is invalid."),
    ],
)
def test_a_failed_b2c_posts_its_code_and_no_receipt(
    daraja, receiver, urls, phone, amount, code, desc
):
    pay(daraja, urls, phone, amount)
    [result] = receiver.wait_for(urls.result)
    body = result["Result"]
    assert (body["ResultCode"], body["ResultDesc"]) == (code, desc)
    assert re.fullmatch(r"[A-Z0-9]{3}0000000", body["TransactionID"])
    assert "ResultParameters" not in body


@pytest.mark.parametrize(
    "override", [{"SecurityCredential": "bm90IHRoZSBjcmVkZW50aWFs"}, {"InitiatorName": "eve"}]
)
def test_a_wrong_initiator_is_accepted_then_told_2001_in_the_result(
    daraja, receiver, urls, phone, override
):
    pay(daraja, urls, phone, 500, **override)
    [result] = receiver.wait_for(urls.result)
    assert result["Result"]["ResultCode"] == 2001


def test_a_queue_timeout_notifies_the_timeout_url_and_pays_nothing(daraja, receiver, urls, phone):
    accepted = pay(daraja, urls, phone, 137)
    [notice] = receiver.wait_for(urls.timeout)
    assert notice["Result"]["ResultType"] == 1
    assert notice["Result"]["OriginatorConversationID"] == accepted["OriginatorConversationID"]
    assert notice["Result"]["ConversationID"] == accepted["ConversationID"]
    time.sleep(QUIET_S)
    assert receiver.received(urls.result) == []
    status = ask_status(
        daraja, receiver, urls, OriginatorConversationID=accepted["OriginatorConversationID"]
    )
    assert status["Result"]["ResultCode"] == "R000002"
    assert "ResultParameters" not in status["Result"]


def test_a_duplicated_result_arrives_twice_identical(daraja, receiver, urls, phone):
    pay(daraja, urls, phone, 198)
    first, second = receiver.wait_for(urls.result, 2)
    assert first == second and first["Result"]["ResultCode"] == 0


def test_a_missing_result_is_settled_by_the_transaction_status(daraja, receiver, urls, phone):
    accepted = pay(daraja, urls, phone, 199)
    time.sleep(QUIET_S)
    assert receiver.received(urls.result) == []
    assert daraja.callbacks(accepted["ConversationID"]) == []
    status = ask_status(
        daraja, receiver, urls, OriginalConversationID=accepted["OriginatorConversationID"]
    )
    body = status["Result"]
    assert (body["ResultType"], body["ResultCode"]) == (0, 0)
    params = parameters(status)
    assert params["TransactionStatus"] == "Completed"
    assert params["Amount"] == 199
    assert params["ReceiptNo"] == body["TransactionID"]
    assert params["Originator Conversation ID"] == accepted["OriginatorConversationID"]
    assert params["Conversation ID"] == accepted["ConversationID"]
    assert params["ReasonType"] == "Business Payment to Customer via API"
    assert params["CreditPartyName"].startswith(phone)


def test_the_status_of_a_paid_b2c_by_its_receipt(daraja, receiver, urls, phone):
    pay(daraja, urls, phone, 400)
    receipt = receiver.wait_for(urls.result)[0]["Result"]["TransactionID"]
    status = ask_status(daraja, receiver, urls, TransactionID=receipt)
    assert status["Result"]["TransactionID"] == receipt
    assert parameters(status)["TransactionStatus"] == "Completed"


def test_the_status_of_a_failed_b2c_says_failed(daraja, receiver, urls, phone):
    accepted = pay(daraja, urls, phone, 111)
    receiver.wait_for(urls.result)
    status = ask_status(
        daraja, receiver, urls, OriginatorConversationID=accepted["OriginatorConversationID"]
    )
    params = parameters(status)
    assert params["TransactionStatus"] == "Failed"
    assert params["ReceiptNo"] is None


def test_the_status_of_a_paid_stk_push_by_its_receipt(daraja, receiver, urls, phone):
    daraja.stk_push(phone, 100, receiver.url(urls.result + "/stk"))
    [paid] = receiver.wait_for(urls.result + "/stk")
    receipt = items(paid)["MpesaReceiptNumber"]
    status = ask_status(daraja, receiver, urls, TransactionID=receipt)
    params = parameters(status)
    assert params["TransactionStatus"] == "Completed"
    assert params["ReasonType"] == "Pay Bill Online"
    assert params["DebitPartyName"].startswith(phone)


def test_the_status_of_an_unknown_receipt_is_not_found(daraja, receiver, urls):
    status = ask_status(daraja, receiver, urls, TransactionID="UAB1234567")
    assert status["Result"]["ResultCode"] == "R000001"
    assert status["Result"]["ReferenceData"] == {"ReferenceItem": {"Key": "Occasion"}}


def test_a_status_query_from_a_wrong_initiator_is_told_2001(daraja, receiver, urls):
    answer = daraja.status(
        urls(urls.status),
        urls(urls.status_timeout),
        TransactionID="UAB1234567",
        SecurityCredential="d3Jvbmc=",
    )
    assert answer.status_code == 200
    [status] = receiver.wait_for(urls.status)
    assert status["Result"]["ResultCode"] == 2001


def test_an_originator_conversation_id_pays_once(daraja, receiver, urls, phone):
    originator = str(uuid.uuid4())
    pay(daraja, urls, phone, 500, OriginatorConversationID=originator)
    again = daraja.b2c(
        phone, 500, urls(urls.result), urls(urls.timeout), OriginatorConversationID=originator
    )
    assert again.status_code == 400
    assert again.json()["errorCode"] == "400.002.02"
    assert again.json()["errorMessage"] == "Bad Request - Duplicate OriginatorConversationID"
    receiver.wait_for(urls.result)
    time.sleep(QUIET_S)
    assert len(receiver.received(urls.result)) == 1


def test_v1_makes_the_originator_conversation_id_itself(daraja, receiver, urls, phone):
    body = daraja.b2c_body(phone, 500, urls(urls.result), urls(urls.timeout))
    del body["OriginatorConversationID"]
    answer = daraja.post("/mpesa/b2c/v1/paymentrequest", body)
    assert answer.status_code == 200, answer.text
    made = answer.json()["OriginatorConversationID"]
    assert re.fullmatch(r"\d{5}-\d{8}-1", made)
    assert receiver.wait_for(urls.result)[0]["Result"]["OriginatorConversationID"] == made


def test_a_b2c_rule_chooses_by_phone_and_a_stk_only_rule_does_not_apply(
    daraja, receiver, urls, phone
):
    daraja.scenario(phone=phone, result="wrong_pin", api="stk")
    daraja.scenario(phone=phone, result="insufficient_funds", api="b2c")
    pay(daraja, urls, phone, 500)
    assert receiver.wait_for(urls.result)[0]["Result"]["ResultCode"] == 1


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"OriginatorConversationID": ""}, "OriginatorConversationID"),
        ({"CommandID": "SendMoney"}, "CommandID"),
        ({"PartyA": "174379"}, "PartyA"),
        ({"PartyB": "0712345678"}, "PartyB"),
        ({"Amount": 0}, "Amount"),
        ({"Amount": "ten"}, "Amount"),
        ({"Remarks": ""}, "Remarks"),
        ({"ResultURL": "nowhere"}, "ResultURL"),
        ({"QueueTimeOutURL": ""}, "QueueTimeOutURL"),
        ({"InitiatorName": ""}, "InitiatorName"),
        ({"SecurityCredential": ""}, "SecurityCredential"),
    ],
)
def test_a_bad_b2c_field_is_refused_by_name(daraja, urls, phone, override, field):
    answer = daraja.b2c(phone, 500, urls(urls.result), urls(urls.timeout), **override)
    assert answer.status_code == 400, answer.text
    assert answer.json()["errorCode"] == "400.002.02"
    assert answer.json()["errorMessage"] == f"Bad Request - Invalid {field}"


@pytest.mark.parametrize(
    ("lookup", "field"),
    [
        ({}, "TransactionID"),
        ({"TransactionID": "UAB1234567", "CommandID": "AccountBalance"}, "CommandID"),
        ({"TransactionID": "UAB1234567", "IdentifierType": "3"}, "IdentifierType"),
        ({"TransactionID": "UAB1234567", "ResultURL": "x"}, "ResultURL"),
        ({"TransactionID": "UAB1234567", "Remarks": ""}, "Remarks"),
    ],
)
def test_a_bad_status_query_is_refused_by_name(daraja, urls, lookup, field):
    answer = daraja.status(urls(urls.status), urls(urls.status_timeout), **lookup)
    assert answer.status_code == 400, answer.text
    assert answer.json()["errorMessage"] == f"Bad Request - Invalid {field}"


def test_a_status_asked_right_after_the_payment_answers_once_it_is_processed(
    tmp_path, receiver, urls, phone
):
    # The status result comes after the same delay as the payment's result, so a
    # query sent before M-Pesa has processed the payment still finds it done.
    with daraja_sandbox(tmp_path, callback_delay_s=0.3) as server:
        daraja = DarajaClient(server.url)
        accepted = pay(daraja, urls, phone, 500)
        time.sleep(0.05)
        status = ask_status(
            daraja, receiver, urls, OriginatorConversationID=accepted["OriginatorConversationID"]
        )
    assert status["Result"]["ResultCode"] == 0
    assert parameters(status)["TransactionStatus"] == "Completed"
