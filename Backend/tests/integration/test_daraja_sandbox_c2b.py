"""C2B on the local Daraja sandbox over real HTTP: URLs registered as Daraja takes
them, a simulated paybill payment validated then confirmed (or not), what happens
when validation does not answer, and the payment found by a status query."""

from __future__ import annotations

import secrets
import time

import pytest

from tests.support.daraja import CallbackReceiver, DarajaClient, daraja_sandbox, parameters

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
