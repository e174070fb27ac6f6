"""A funded user, a withdrawal taken through the real service, and Daraja `Result`
bodies for the B2C and transaction-status callbacks, shaped as M-Pesa sends them."""

from __future__ import annotations

import uuid

from app.db.unit_of_work import UnitOfWork
from app.services.mpesa.withdrawals import WithdrawalRequest, withdraw
from app.services.pins import PinHasher, PinPolicy
from tests.support.wallets import fund, phone_of, register, registration_secrets

KES = 100
JANE = phone_of(1)
MSISDN = JANE.removeprefix("+")
PIN = "4821"


def with_jane(rig, balance: int = 2_000 * KES):
    box, pin_hash = registration_secrets(rig.settings, PIN)
    rig.user_id = register(rig.database, box, pin_hash, phone=JANE, name="Jane Wanjiku")
    fund(rig.database, JANE, balance)
    return rig


def take(rig, amount: int):
    """A withdrawal held and its B2C request queued; returns the Withdrawal."""
    return withdraw(
        UnitOfWork(rig.database),
        PinHasher.from_settings(rig.settings),
        PinPolicy.from_settings(rig.settings),
        WithdrawalRequest(rig.user_id, amount, uuid.uuid4().hex, "api"),
        pin=PIN,
        result_wait_s=rig.settings.mpesa_result_wait_s,
    ).withdrawal


def b2c_result(originator: str, code: int = 1, amount_kes: int = 100) -> dict:
    result = {
        "ResultType": 0,
        "ResultCode": code,
        "ResultDesc": "The balance is insufficient for the transaction." if code else "OK",
        "OriginatorConversationID": originator,
        "ConversationID": "AG_20261129_forged",
        "TransactionID": "UKT0000000",
    }
    if code == 0:
        result["ResultParameters"] = {
            "ResultParameter": [
                {"Key": "TransactionAmount", "Value": amount_kes},
                {"Key": "TransactionReceipt", "Value": "UKTFORGED1"},
            ]
        }
    return {"Result": result}


def status_result(
    conversation_id: str,
    *,
    status: str = "Failed",
    originator: str | None = None,
    occasion: str | None = None,
    amount_kes: int = 100,
) -> dict:
    """A transaction status answer under `conversation_id` (the query it answers)."""
    params = [
        {"Key": "TransactionStatus", "Value": status},
        {"Key": "Amount", "Value": amount_kes},
        {"Key": "ReceiptNo", "Value": "UKTFORGED2"},
    ]
    if originator:
        params.append({"Key": "Originator Conversation ID", "Value": originator})
    result = {
        "ResultType": 0,
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "OriginatorConversationID": "forged-query",
        "ConversationID": conversation_id,
        "TransactionID": "UKT0000000",
        "ResultParameters": {"ResultParameter": params},
    }
    if occasion:
        result["ReferenceData"] = {"ReferenceItem": {"Key": "Occasion", "Value": occasion}}
    return {"Result": result}
