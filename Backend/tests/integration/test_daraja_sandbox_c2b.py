"""C2B on the local Daraja sandbox over real HTTP: URLs registered as Daraja takes
them, a simulated paybill payment validated then confirmed (or not), what happens
when validation does not answer, and the payment found by a status query."""

from __future__ import annotations

import secrets
import time

import pytest

from tests.support.daraja import (
    CallbackReceiver,
    DarajaClient,
    daraja_sandbox,
    parameters,
    reversal_body,
)

QUIET_S = 0.5
ACCEPT = {"ResultCode": "0", "ResultDesc": "Accepted"}


class Paths:
    def __init__(self, receiver: CallbackReceiver) -> None:
        tag = secrets.token_hex(4)
        self.validation, self.confirmation = f"/c2b/{tag}/validate", f"/c2b/{tag}/confirm"
        self.status = f"/status/{tag}/result"
        self.receiver = receiver

    def register(self, daraja: DarajaClient, **overrides) -> None:
        answer = daraja.register_c2b(
            self.receiver.url(self.confirmation), self.receiver.url(self.validation), **overrides
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["ResponseCode"] == "0"


@pytest.fixture
def paths(receiver) -> Paths:
    return Paths(receiver)


def simulate(daraja: DarajaClient, phone: str, amount: int, bill_ref: str) -> None:
    answer = daraja.simulate_c2b(phone, amount, bill_ref)
    assert answer.status_code == 200, answer.text
    assert answer.json()["ResponseCode"] == "0"
    assert answer.json()["ResponseDescription"] == "Accept the service request successfully."


def test_an_accepted_payment_is_validated_then_confirmed_with_darajas_fields(
    daraja, receiver, paths, phone
):
    paths.register(daraja)
    receiver.answer(paths.validation, 200, ACCEPT)
    simulate(daraja, phone, 250, "12345678")

    [validation] = receiver.wait_for(paths.validation)
    [confirmation] = receiver.wait_for(paths.confirmation)
    assert confirmation == validation
    assert confirmation["TransactionType"] == "Pay Bill"
    assert confirmation["TransAmount"] == "250.00"
    assert confirmation["BillRefNumber"] == "12345678"
    assert confirmation["MSISDN"] == phone
    assert confirmation["BusinessShortCode"] == daraja.config.shortcode
    assert len(confirmation["TransID"]) == 10 and len(confirmation["TransTime"]) == 14
    assert {"FirstName", "MiddleName", "LastName", "InvoiceNumber"} <= confirmation.keys()


def test_a_rejected_payment_is_never_confirmed(daraja, receiver, paths, phone):
    paths.register(daraja)
    receiver.answer(paths.validation, 200, {"ResultCode": "C2B00012", "ResultDesc": "Rejected"})
    simulate(daraja, phone, 250, "99999999")

    receiver.wait_for(paths.validation)
    time.sleep(QUIET_S)
    assert receiver.received(paths.confirmation) == []


@pytest.mark.parametrize(("response_type", "confirmed"), [("Completed", 1), ("Cancelled", 0)])
def test_an_unanswered_validation_follows_the_response_type(
    daraja, receiver, paths, phone, response_type, confirmed
):
    paths.register(daraja, ResponseType=response_type)
    receiver.answer(paths.validation, 500)
    simulate(daraja, phone, 250, "12345678")

    receiver.wait_for(paths.validation)
    time.sleep(QUIET_S)
    assert len(receiver.received(paths.confirmation)) == confirmed


def test_a_confirmed_payment_is_found_by_a_status_query(daraja, receiver, paths, phone):
    paths.register(daraja)
    receiver.answer(paths.validation, 200, ACCEPT)
    simulate(daraja, phone, 300, "12345678")
    [confirmation] = receiver.wait_for(paths.confirmation)

    answer = daraja.status(
        receiver.url(paths.status),
        receiver.url(paths.status),
        TransactionID=confirmation["TransID"],
    )
    assert answer.status_code == 200, answer.text
    [status] = receiver.wait_for(paths.status)
    assert status["Result"]["ResultCode"] == 0
    params = parameters(status)
    assert params["ReceiptNo"] == confirmation["TransID"]
    assert params["TransactionStatus"] == "Completed"
    assert params["Amount"] == 300
    assert params["DebitPartyName"].startswith(phone)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ConfirmationURL", "https://example.com/mpesa/confirm"),
        ("ValidationURL", "https://example.com/Safaricom/validate"),
        ("ValidationURL", "not a url"),
        ("ResponseType", "completed"),
        ("ShortCode", "999999"),
    ],
)
def test_a_registration_daraja_refuses_is_refused_by_field(daraja, receiver, field, value):
    answer = daraja.register_c2b(
        receiver.url("/c2b/confirm"), receiver.url("/c2b/validate"), **{field: value}
    )
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "400.002.02"
    assert field in answer.json()["errorMessage"]


def test_a_simulation_without_an_account_number_is_refused(daraja, paths, phone):
    paths.register(daraja)
    answer = daraja.simulate_c2b(phone, 100, "")
    assert answer.status_code == 400 and "BillRefNumber" in answer.json()["errorMessage"]


def test_a_simulation_before_any_registration_is_refused(tmp_path, phone):
    with daraja_sandbox(tmp_path) as server:
        answer = DarajaClient(server.url).simulate_c2b(phone, 100, "12345678")
    assert answer.status_code == 400 and "ShortCode" in answer.json()["errorMessage"]


# ---- Transaction Reversal ----------------------------------------------------------------


def paid_in(daraja, receiver, paths, phone, kes: int = 300) -> dict:
    paths.register(daraja)
    receiver.answer(paths.validation, 200, ACCEPT)
    simulate(daraja, phone, kes, "12345678")
    [confirmation] = receiver.wait_for(paths.confirmation)
    return confirmation


def reverse(daraja, receiver, path: str, trans_id: str, kes: int) -> tuple[dict, dict]:
    answer = daraja.post(
        "/mpesa/reversal/v1/request",
        reversal_body(daraja.config, trans_id, kes, receiver.url(path)),
    )
    assert answer.status_code == 200, answer.text
    accepted = answer.json()
    assert accepted["ResponseCode"] == "0"
    [result] = receiver.wait_for(path)
    assert result["Result"]["ConversationID"] == accepted["ConversationID"]
    return accepted, result


def test_a_paybill_payment_is_reversed_once_and_found_by_its_originator(
    daraja, receiver, paths, phone
):
    confirmation = paid_in(daraja, receiver, paths, phone)
    trans_id = confirmation["TransID"]
    accepted, result = reverse(daraja, receiver, f"{paths.status}/rev1", trans_id, 300)
    assert result["Result"]["ResultCode"] == 0
    params = parameters(result)
    assert params["OriginalTransactionID"] == trans_id and params["Amount"] == 300

    answer = daraja.status(
        receiver.url(paths.status),
        receiver.url(paths.status),
        OriginatorConversationID=accepted["OriginatorConversationID"],
    )
    assert answer.status_code == 200
    [status] = receiver.wait_for(paths.status)
    assert parameters(status)["TransactionStatus"] == "Completed"
    assert parameters(status)["ReasonType"] == "Reversal"

    _, again = reverse(daraja, receiver, f"{paths.status}/rev2", trans_id, 300)
    assert again["Result"]["ResultCode"] == "R000003"
    assert "ResultParameters" not in again["Result"]


@pytest.mark.parametrize(("which", "code"), [("unknown", "R000001"), ("amount", "R000004")])
def test_a_reversal_of_an_unknown_receipt_or_another_amount_is_refused_in_its_result(
    daraja, receiver, paths, phone, which, code
):
    confirmation = paid_in(daraja, receiver, paths, phone)
    trans_id = "UKT0000001" if which == "unknown" else confirmation["TransID"]
    _, result = reverse(daraja, receiver, f"{paths.status}/{which}", trans_id, 299)
    assert result["Result"]["ResultCode"] == code
