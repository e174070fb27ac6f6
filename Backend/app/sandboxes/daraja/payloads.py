"""The JSON Daraja answers with and POSTs to callback URLs, in Daraja's field names
and types: STK callback amounts, dates and phone numbers are JSON numbers, STK query
codes are strings, B2C and transaction-status results are `Result` envelopes whose
parameters are `{Key, Value}` pairs (a Key with no Value where M-Pesa has none).
"""

from __future__ import annotations

from app.sandboxes.daraja.config import SandboxConfig
from app.sandboxes.daraja.identifiers import daraja_time
from app.sandboxes.daraja.store import B2CRecord, StkRecord

STK_ACCEPTED = "Success. Request accepted for processing"
REQUEST_ACCEPTED = "Accept the service request successfully."
# Daraja's own spelling in its STK query answers.
QUERY_ACCEPTED = "The service request has been accepted successsfully"


def stk_accepted(record: StkRecord) -> dict:
    return {
        "MerchantRequestID": record.merchant_request_id,
        "CheckoutRequestID": record.checkout_request_id,
        "ResponseCode": "0",
        "ResponseDescription": STK_ACCEPTED,
        "CustomerMessage": STK_ACCEPTED,
    }


def stk_callback(record: StkRecord, *, metadata: bool = True) -> dict:
    """The body POSTed to the CallBackURL once the customer has answered."""
    callback = {
        "MerchantRequestID": record.merchant_request_id,
        "CheckoutRequestID": record.checkout_request_id,
        "ResultCode": record.result_code,
        "ResultDesc": record.result_desc,
    }
    if record.result_code == 0 and metadata:
        callback["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": record.amount},
                {"Name": "MpesaReceiptNumber", "Value": record.receipt},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": int(daraja_time(record.settles_at))},
                {"Name": "PhoneNumber", "Value": int(record.phone)},
            ]
        }
    return {"Body": {"stkCallback": callback}}


def stk_query_answer(record: StkRecord) -> dict:
    return {
        "ResponseCode": "0",
        "ResponseDescription": QUERY_ACCEPTED,
        "MerchantRequestID": record.merchant_request_id,
        "CheckoutRequestID": record.checkout_request_id,
        "ResultCode": str(record.result_code),
        "ResultDesc": record.result_desc,
    }


def request_accepted(conversation_id: str, originator_conversation_id: str) -> dict:
    """The synchronous answer to a B2C payment or a transaction status query."""
    return {
        "ConversationID": conversation_id,
        "OriginatorConversationID": originator_conversation_id,
        "ResponseCode": "0",
        "ResponseDescription": REQUEST_ACCEPTED,
    }


def _params(pairs: list[tuple[str, object]]) -> dict:
    return {
        "ResultParameter": [
            {"Key": key} if value is None else {"Key": key, "Value": value} for key, value in pairs
        ]
    }


def _reference(key: str, value: str) -> dict:
    item = {"Key": key, "Value": value} if value else {"Key": key}
    return {"ReferenceItem": item}


def b2c_result(record: B2CRecord, config: SandboxConfig) -> dict:
    """The body POSTed to the ResultURL once M-Pesa has processed the payment."""
    result = {
        "ResultType": 0,
        "ResultCode": record.result_code,
        "ResultDesc": record.result_desc,
        "OriginatorConversationID": record.originator_conversation_id,
        "ConversationID": record.conversation_id,
        "TransactionID": record.transaction_id,
    }
    if record.result_code == 0:
        completed = daraja_time(record.settles_at)
        result["ResultParameters"] = _params(
            [
                ("TransactionAmount", record.amount),
                ("TransactionReceipt", record.transaction_id),
                ("B2CRecipientIsRegisteredCustomer", "Y"),
                ("B2CChargesPaidAccountAvailableFunds", 0),
                ("ReceiverPartyPublicName", f"{record.phone} - Sandbox Customer"),
                ("TransactionCompletedDateTime", _dotted(completed)),
                ("B2CUtilityAccountAvailableFunds", 1_000_000),
                ("B2CWorkingAccountAvailableFunds", 1_000_000),
            ]
        )
    result["ReferenceData"] = _reference("QueueTimeoutURL", record.queue_timeout_url)
    return {"Result": result}


def b2c_queue_timeout(record: B2CRecord) -> dict:
    """The notice POSTed to the QueueTimeOutURL. Daraja does not document this body;
    the sandbox sends the `Result` envelope with ResultType 1. A receiver should read
    it only as "outcome unknown: ask the transaction status"."""
    return {
        "Result": {
            "ResultType": 1,
            "ResultCode": record.result_code,
            "ResultDesc": record.result_desc,
            "OriginatorConversationID": record.originator_conversation_id,
            "ConversationID": record.conversation_id,
            "TransactionID": record.transaction_id,
            "ReferenceData": _reference("QueueTimeoutURL", record.queue_timeout_url),
        }
    }


def _dotted(stamp: str) -> str:
    """YYYYMMDDHHmmss as M-Pesa's B2C `DD.MM.YYYY HH:mm:ss`."""
    return f"{stamp[6:8]}.{stamp[4:6]}.{stamp[0:4]} {stamp[8:10]}:{stamp[10:12]}:{stamp[12:14]}"


def status_result(
    conversation_id: str,
    originator_conversation_id: str,
    code: int | str,
    desc: str,
    transaction_id: str,
    occasion: str,
    parameters: list[tuple[str, object]] | None = None,
) -> dict:
    """The body POSTed to a transaction status query's ResultURL."""
    result: dict = {
        "ResultType": 0,
        "ResultCode": code,
        "ResultDesc": desc,
        "OriginatorConversationID": originator_conversation_id,
        "ConversationID": conversation_id,
        "TransactionID": transaction_id,
    }
    if parameters is not None:
        result["ResultParameters"] = _params(parameters)
    result["ReferenceData"] = _reference("Occasion", occasion)
    return {"Result": result}


def status_parameters(
    *,
    receipt: str | None,
    status: str,
    amount: int,
    debit_party: str,
    credit_party: str,
    reason_type: str,
    initiated_at: float,
    finalised_at: float | None,
    conversation_id: str,
    originator_conversation_id: str,
) -> list[tuple[str, object]]:
    """The `{Key, Value}` pairs of a found transaction, in M-Pesa's key names (two of
    which have spaces: "Originator Conversation ID", "Conversation ID")."""
    return [
        ("DebitPartyName", debit_party),
        ("CreditPartyName", credit_party),
        ("Originator Conversation ID", originator_conversation_id),
        ("InitiatedTime", int(daraja_time(initiated_at))),
        ("DebitAccountType", "Utility Account"),
        ("DebitPartyCharges", None),
        ("TransactionReason", None),
        ("ReasonType", reason_type),
        ("TransactionStatus", status),
        ("FinalisedTime", int(daraja_time(finalised_at)) if finalised_at else None),
        ("Amount", amount),
        ("Conversation ID", conversation_id),
        ("ReceiptNo", receipt),
    ]
