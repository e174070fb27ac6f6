"""Business Pay Bill (B2B) on the local Daraja sandbox over real HTTP: the acceptance,
the result with KPLC's token and units, failures and queue timeouts, a missing result
found by a transaction status query, the account holder's lookup, and refusals."""

from __future__ import annotations

import re
import secrets
import time

import pytest

from app.sandboxes.daraja.b2b import KPLC_PREPAID
from tests.support.daraja import CallbackReceiver, DarajaClient, b2b_body, parameters

QUIET_S = 0.5
DSTV = "444900"


class Urls:
    def __init__(self, receiver: CallbackReceiver) -> None:
        tag = secrets.token_hex(4)
        self.result, self.timeout = f"/b2b/{tag}/result", f"/b2b/{tag}/timeout"
        self.status = f"/status/{tag}/result"
        self.receiver = receiver

    def __call__(self, path: str) -> str:
        return self.receiver.url(path)


@pytest.fixture
def urls(receiver) -> Urls:
    return Urls(receiver)


def meter() -> str:
    return "".join(secrets.choice("123456789") for _ in range(11))


def pay(daraja: DarajaClient, urls: Urls, paybill: str, account: str, amount: int, **over):
    body = b2b_body(daraja.config, paybill, account, amount, urls(urls.result), urls(urls.timeout))
    answer = daraja.post("/mpesa/b2b/v1/paymentrequest", body | over)
    return answer


def status_of(daraja: DarajaClient, receiver, urls: Urls, originator: str) -> dict:
    answer = daraja.status(urls(urls.status), urls(urls.status), OriginalConversationID=originator)
    assert answer.status_code == 200, answer.text
    [result] = receiver.wait_for(urls.status)
    return result


def test_a_kplc_prepaid_payment_is_accepted_then_its_result_carries_token_and_units(
    daraja, receiver, urls
):
    account = meter()
    answer = pay(daraja, urls, KPLC_PREPAID, account, 500)
    assert answer.status_code == 200, answer.text
    accepted = answer.json()
    assert accepted["ResponseCode"] == "0"
    assert re.fullmatch(r"AG_\d{8}_0000[0-9a-f]{16}", accepted["ConversationID"])
    [result] = receiver.wait_for(urls.result)
    body = result["Result"]
    assert (body["ResultCode"], body["ConversationID"]) == (0, accepted["ConversationID"])
    assert body["OriginatorConversationID"] == accepted["OriginatorConversationID"]
    assert re.fullmatch(r"[A-Z0-9]{10}", body["TransactionID"])
    found = parameters(result)
    assert found["Amount"] == "500.00"
    assert re.fullmatch(r"\d{20}", found["Token"])
    assert found["Units"] == "20.00"  # KES 500 at the sandbox's KES 25 a unit
    references = body["ReferenceData"]["ReferenceItem"]
    assert {"Key": "BillReferenceNumber", "Value": account} in references

    status = status_of(daraja, receiver, urls, accepted["OriginatorConversationID"])
    told = parameters(status)
    assert status["Result"]["ResultCode"] == 0
    assert told["TransactionStatus"] == "Completed"
    assert (told["ReceiptNo"], told["Token"], told["Units"]) == (
        body["TransactionID"],
        found["Token"],
        "20.00",
    )
    assert told["BillReferenceNumber"] == account


def test_another_biller_is_paid_without_a_token(daraja, receiver, urls):
    assert pay(daraja, urls, DSTV, meter(), 500).status_code == 200
    [result] = receiver.wait_for(urls.result)
    assert result["Result"]["ResultCode"] == 0
    assert "Token" not in parameters(result)


def test_a_failed_payment_says_so_in_its_result_and_its_status(daraja, receiver, urls):
    accepted = pay(daraja, urls, KPLC_PREPAID, meter(), 111).json()  # insufficient funds
    [result] = receiver.wait_for(urls.result)
    assert result["Result"]["ResultCode"] == 1
    assert "Token" not in parameters(result)
    status = status_of(daraja, receiver, urls, accepted["OriginatorConversationID"])
    assert parameters(status)["TransactionStatus"] == "Failed"


def test_a_queue_timeout_pays_nothing_and_no_status_finds_it(daraja, receiver, urls):
    accepted = pay(daraja, urls, KPLC_PREPAID, meter(), 137).json()
    [notice] = receiver.wait_for(urls.timeout)
    assert notice["Result"]["ResultType"] == 1
    assert receiver.received(urls.result) == []
    status = status_of(daraja, receiver, urls, accepted["OriginatorConversationID"])
    assert status["Result"]["ResultCode"] == "R000002"


def test_a_result_never_sent_is_found_by_the_status_query(daraja, receiver, urls):
    daraja.scenario(amount=700, result="success", callback="none", api="b2b")
    accepted = pay(daraja, urls, KPLC_PREPAID, meter(), 700).json()
    time.sleep(1.0 + QUIET_S)
    assert receiver.received(urls.result) == []
    status = status_of(daraja, receiver, urls, accepted["OriginatorConversationID"])
    assert parameters(status)["TransactionStatus"] == "Completed"
    assert re.fullmatch(r"\d{20}", parameters(status)["Token"])


def test_a_wrong_initiator_is_refused_in_the_result(daraja, receiver, urls):
    pay(daraja, urls, KPLC_PREPAID, meter(), 500, SecurityCredential="wrong")
    [result] = receiver.wait_for(urls.result)
    assert result["Result"]["ResultCode"] == 2001


@pytest.mark.parametrize(
    "field,value",
    [
        ("CommandID", "BusinessBuyGoods"),
        ("RecieverIdentifierType", "2"),
        ("PartyA", "999999"),
        ("PartyB", "12"),
        ("AccountReference", ""),
        ("Amount", "12.50"),
        ("ResultURL", "not a url"),
    ],
)
def test_a_malformed_request_is_refused_by_field(daraja, urls, field, value):
    answer = pay(daraja, urls, KPLC_PREPAID, meter(), 500, **{field: value})
    assert answer.status_code == 400
    assert answer.json()["errorMessage"] == f"Bad Request - Invalid {field}"


def test_the_lookup_names_the_account_holder_the_same_way_every_time(daraja):
    account = meter()
    body = {"PartyB": KPLC_PREPAID, "AccountReference": account}
    first = daraja.post("/mpesa/b2b/v1/accountlookup", body)
    assert first.status_code == 200, first.text
    name = first.json()["AccountName"]
    assert re.fullmatch(r"[A-Z]+ [A-Z]\.", name)
    assert daraja.post("/mpesa/b2b/v1/accountlookup", body).json()["AccountName"] == name


def test_the_lookup_of_an_unknown_account_is_not_found(daraja):
    body = {"PartyB": KPLC_PREPAID, "AccountReference": "12345670000"}
    answer = daraja.post("/mpesa/b2b/v1/accountlookup", body)
    assert answer.status_code == 404


def test_the_lookup_wants_a_token(daraja):
    answer = daraja.http.post(
        "/mpesa/b2b/v1/accountlookup", json={"PartyB": KPLC_PREPAID, "AccountReference": "1"}
    )
    assert answer.status_code == 401
