"""Transaction Reversal in the sandbox: PayTrace gives back a payment made into its
paybill (a C2B payment, or a paid STK push). Daraja answers at once (ConversationID,
OriginatorConversationID - both its own), then POSTs the `Result` to the ResultURL;
a transaction status query by that OriginatorConversationID finds the reversal.

A payment is reversed once, for its whole amount. Refusals come in the result, as
Daraja's do: an unknown receipt `R000001`; and the sandbox's own codes (Daraja does not
document these) `R000003` already reversed and `R000004` not the payment's amount; a
wrong initiator 2001.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from app.sandboxes.daraja import errors, identifiers, payloads
from app.sandboxes.daraja.config import SandboxConfig
from app.sandboxes.daraja.scenarios import SUCCESS_DESC, WRONG_INITIATOR_DESC
from app.sandboxes.daraja.store import Delivery, ReversalRecord, Store
from app.sandboxes.daraja.validation import _amount, _choice, _initiator_ok, _text, _url

UNKNOWN_RECEIPT = ("R000001", "The transaction receipt number is invalid.")
ALREADY_REVERSED = ("R000003", "The transaction has already been reversed.")
WRONG_AMOUNT = ("R000004", "The amount is not the transaction's amount.")


@dataclass(frozen=True)
class ReversalRequest:
    trans_id: str
    amount: int
    result_url: str
    queue_timeout_url: str
    credentials_ok: bool


def request(body: dict, config: SandboxConfig) -> ReversalRequest:
    """A reversal request, checked as Daraja checks it; raises DarajaError."""
    credentials_ok = _initiator_ok(body, "Initiator", config)
    _choice(body, "CommandID", ("TransactionReversal",))
    trans_id = _text(body, "TransactionID", 20)
    amount = _amount(body)
    if _text(body, "ReceiverParty", 12) != config.shortcode:
        raise errors.invalid("ReceiverParty")
    _choice(body, "RecieverIdentifierType", ("11",))  # Daraja's spelling
    _text(body, "Remarks", 100)
    _text(body, "Occasion", 100, required=False)
    return ReversalRequest(
        trans_id=trans_id,
        amount=amount,
        result_url=_url(body, "ResultURL"),
        queue_timeout_url=_url(body, "QueueTimeOutURL"),
        credentials_ok=credentials_ok,
    )


def _paid_in(store: Store, receipt: str) -> tuple[str, int] | None:
    """(the payer's phone, the amount) of a payment into the paybill: a completed C2B
    payment or a paid STK push."""
    payment = store.c2b(receipt)
    if payment is not None:
        return (payment.phone, payment.amount) if payment.status == "completed" else None
    push = store.stk(receipt=receipt)
    return (push.phone, push.amount) if push is not None and push.result_code == 0 else None


def _result(store: Store, req: ReversalRequest) -> tuple[str, str]:
    if not req.credentials_ok:
        return "2001", WRONG_INITIATOR_DESC
    paid = _paid_in(store, req.trans_id)
    if paid is None:
        return UNKNOWN_RECEIPT
    if store.reversed_payment(req.trans_id) is not None:
        return ALREADY_REVERSED
    if req.amount != paid[1]:
        return WRONG_AMOUNT
    return "0", SUCCESS_DESC


def accept(store: Store, config: SandboxConfig, req: ReversalRequest, now: float) -> dict:
    """Record the reversal with its outcome and its result callback; Daraja's answer."""
    settles_at = now + config.callback_delay_s
    for _ in range(3):  # a reversal racing another of the same payment is refused
        code, desc = _result(store, req)
        record = ReversalRecord(
            conversation_id=identifiers.conversation_id(now),
            originator_conversation_id=identifiers.request_id(),
            trans_id=req.trans_id,
            amount=req.amount,
            result_code=code,
            result_desc=desc,
            transaction_id=(
                identifiers.receipt if code == "0" else identifiers.failed_transaction_id
            )(settles_at),
            result_url=req.result_url,
            created_at=now,
            settles_at=settles_at,
        )
        body = result_body(record, store, config)
        delivery = Delivery(
            "reversal_result", record.conversation_id, req.result_url, body, settles_at
        )
        try:
            store.add_reversal(record, [delivery])
        except sqlite3.IntegrityError:
            continue
        return payloads.request_accepted(record.conversation_id, record.originator_conversation_id)
    raise RuntimeError("could not record the reversal")


def result_body(record: ReversalRecord, store: Store, config: SandboxConfig) -> dict:
    """The `Result` POSTed to the reversal's ResultURL."""
    result: dict = {
        "ResultType": 0,
        "ResultCode": int(record.result_code)
        if record.result_code.isdigit()
        else record.result_code,
        "ResultDesc": record.result_desc,
        "OriginatorConversationID": record.originator_conversation_id,
        "ConversationID": record.conversation_id,
        "TransactionID": record.transaction_id,
    }
    if record.result_code == "0":
        paid = _paid_in(store, record.trans_id)
        phone = paid[0] if paid else ""
        result["ResultParameters"] = {
            "ResultParameter": [
                {"Key": "DebitAccountBalance", "Value": "Utility Account|KES|1000000.00"},
                {"Key": "Amount", "Value": record.amount},
                {
                    "Key": "TransCompletedTime",
                    "Value": int(identifiers.daraja_time(record.settles_at)),
                },
                {"Key": "OriginalTransactionID", "Value": record.trans_id},
                {"Key": "Charge", "Value": 0},
                {"Key": "CreditPartyPublicName", "Value": f"{phone} - Sandbox Customer"},
                {
                    "Key": "DebitPartyPublicName",
                    "Value": f"{config.shortcode} - {config.organization_name}",
                },
            ]
        }
    result["ReferenceData"] = {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": ""}}
    return {"Result": result}


def status_parameters(record: ReversalRecord, store: Store, config: SandboxConfig) -> list:
    """What a transaction status query by the reversal's OriginatorConversationID says."""
    done = record.result_code == "0"
    paid = _paid_in(store, record.trans_id)
    payment_phone = paid[0] if paid else ""
    return payloads.status_parameters(
        receipt=record.transaction_id if done else None,
        status="Completed" if done else "Failed",
        amount=record.amount,
        debit_party=f"{config.shortcode} - {config.organization_name}",
        credit_party=f"{payment_phone} - Sandbox Customer",
        reason_type="Reversal",
        initiated_at=record.created_at,
        finalised_at=record.settles_at,
        conversation_id=record.conversation_id,
        originator_conversation_id=record.originator_conversation_id,
    )
