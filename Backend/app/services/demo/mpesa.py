"""The demo's M-Pesa: deposits and withdrawals through the real services, with the
demo playing the outbox worker and M-Pesa.

A deposit is asked for (`request_deposit`), its STK push row claimed and finished as
the worker does (`outbox_dispatch`, `push_accepted`), M-Pesa's callback stored and
processed as the callback route does (`inbound_callbacks.receive`,
`inbound.process_mpesa`), then M-Pesa's STK query answer settles it. A withdrawal is
held (`withdraw`), its B2C row claimed and finished (`request_submitted`), the B2C
result stored and processed, then a transaction status query stored
(`status_query_asked`) and its answer processed: the same confirmations a real
withdrawal needs before its hold is paid out or released. Bodies are shaped as Daraja
sends them; each B2C result reports the float left (B2CUtilityAccountAvailableFunds),
which the console reads as the M-Pesa float.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta

from app.db.unit_of_work import UnitOfWork
from app.integrations.daraja_payloads import StkOutcome
from app.services import inbound_callbacks, outbox_dispatch, pins
from app.services.mpesa import checks, deposits, inbound, payouts, stk_results, withdrawals

WORKER = "demo"
PAID_DESC = "The service request is processed successfully."
STK_CODES = {
    "paid": (0, PAID_DESC),
    "cancelled": (1032, "Request cancelled by user"),
    "timeout": (1037, "DS timeout user cannot be reached"),
    "insufficient": (1, "The balance is insufficient for the transaction."),
}
B2C_FAILED = (2001, "The initiator information is invalid.")


class DemoClash(RuntimeError):
    """Another worker took the demo's M-Pesa row: stop `make run` before `make demo`."""


def _id(prefix: str, key: str, size: int = 20) -> str:
    return prefix + hashlib.sha256(key.encode()).hexdigest()[:size].upper()


def _claim(uow: Callable[[], UnitOfWork], kind: str, field: str, reference: str):
    row = outbox_dispatch.claim_one(uow(), kinds=[kind], worker_id=WORKER, lease_s=300)
    if row is None or row.payload.get(field) != reference:
        raise DemoClash(f"the {kind} row of {reference} was not the demo's to claim")
    return row


def _callback(
    uow: Callable[[], UnitOfWork],
    kind: str,
    body: dict,
    *,
    policy: payouts.CheckPolicy,
    at: datetime,
    query: str | None = None,
) -> str:
    raw = json.dumps(body).encode()
    callback_id = inbound_callbacks.receive(
        uow(),
        provider="mpesa",
        kind=kind,
        path=f"/callbacks/mpesa/{kind.replace('_', '/')}/***",
        query=query,
        content_type="application/json",
        body=raw,
        verification="token_matched",
    )
    return inbound.process_mpesa(
        uow(), callback_id, kind=kind, body=raw, query=query, policy=policy, now=at
    )


def deposit(
    uow: Callable[[], UnitOfWork],
    *,
    user_id: int,
    phone: str,
    amount: int,
    ending: str,
    key: str,
    at: datetime,
    policy: payouts.CheckPolicy,
) -> str:
    """One STK deposit that ends as `ending` (paid, cancelled, timeout, insufficient);
    returns how the query's answer ended it. Raises what request_deposit raises, and
    DemoClash."""
    asked = deposits.request_deposit(
        uow(),
        deposits.DepositRequest(user_id=user_id, amount=amount, idempotency_key=key),
        query_after_s=60,
        now=at,
    )
    reference = asked.deposit.reference
    if asked.replayed or asked.deposit.status != "requested":
        return "replayed"
    row = _claim(uow, "mpesa_stk", "deposit", reference)
    checkout, merchant = _id("ws_CO_DEMO", key), _id("DEMO-", key, 12)
    outbox_dispatch.finish(
        uow(),
        row.id,
        outbox_dispatch.DONE,
        error="",
        record=lambda u: deposits.push_accepted(
            u,
            reference,
            merchant_request_id=merchant,
            checkout_request_id=checkout,
            query_after_s=60,
            now=at,
        ),
    )
    code, desc = STK_CODES[ending]
    callback: dict = {
        "MerchantRequestID": merchant,
        "CheckoutRequestID": checkout,
        "ResultCode": code,
        "ResultDesc": desc,
    }
    if code == 0:
        callback["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": amount // 100},
                {"Name": "MpesaReceiptNumber", "Value": _id("D", key, 9)},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": int(at.strftime("%Y%m%d%H%M%S"))},
                {"Name": "PhoneNumber", "Value": int(phone.lstrip("+"))},
            ]
        }
    later = at + timedelta(seconds=20)
    _callback(
        uow,
        "stk",
        {"Body": {"stkCallback": callback}},
        policy=policy,
        at=later,
        query=f"deposit={reference}",
    )
    # PayTrace's own STK query: M-Pesa's word that credits (or fails) the deposit.
    answer = StkOutcome(checkout, merchant, str(code), desc, source="query")
    return stk_results.settle(uow(), answer, now=later + timedelta(seconds=10))


def withdrawal(
    uow: Callable[[], UnitOfWork],
    hasher: pins.PinHasher,
    pin_policy: pins.PinPolicy,
    *,
    user_id: int,
    pin: str,
    amount: int,
    ending: str,
    key: str,
    at: datetime,
    policy: payouts.CheckPolicy,
    float_left: int,
) -> str:
    """One withdrawal paid out (`ending` 'paid') or refused by M-Pesa and released;
    returns how M-Pesa's status answer ended it. `float_left` is the B2C utility
    account's balance its result reports (cents). Raises what withdraw raises, and
    DemoClash."""
    held = withdrawals.withdraw(
        uow(),
        hasher,
        pin_policy,
        withdrawals.WithdrawalRequest(user_id=user_id, amount=amount, idempotency_key=key),
        pin=pin,
        result_wait_s=60,
        now=at,
    )
    w = held.withdrawal
    if held.replayed:
        return "replayed"
    row = _claim(uow, "mpesa_b2c", "withdrawal", w.reference)
    originator, conversation = w.originator_conversation_id, _id("AG_DEMO_", key)
    outbox_dispatch.finish(
        uow(),
        row.id,
        outbox_dispatch.DONE,
        error="",
        record=lambda u: payouts.request_submitted(
            u, originator, conversation_id=conversation, check_after=at + timedelta(seconds=60)
        ),
    )
    paid = ending == "paid"
    receipt = _id("W", key, 9) if paid else ""
    code, desc = (0, PAID_DESC) if paid else B2C_FAILED
    result: dict = {
        "ResultType": 0,
        "ResultCode": code,
        "ResultDesc": desc,
        "OriginatorConversationID": originator,
        "ConversationID": conversation,
        "TransactionID": receipt or _id("F", key, 9),
    }
    if paid:
        result["ResultParameters"] = _params(
            ("TransactionAmount", amount // 100),
            ("TransactionReceipt", receipt),
            ("B2CRecipientIsRegisteredCustomer", "Y"),
            ("B2CChargesPaidAccountAvailableFunds", 0),
            ("B2CUtilityAccountAvailableFunds", f"{float_left // 100}.{float_left % 100:02d}"),
            ("B2CWorkingAccountAvailableFunds", 0),
        )
    later = at + timedelta(seconds=30)
    _callback(uow, "b2c_result", {"Result": result}, policy=policy, at=later)
    query, query_originator = _id("AG_DEMOQ_", key), _id("demo-q-", key, 16)
    checks.status_query_asked(
        uow(), w.id, conversation_id=query, originator_conversation_id=query_originator
    )
    status = {
        "ResultType": 0,
        "ResultCode": 0,
        "ResultDesc": PAID_DESC,
        "OriginatorConversationID": query_originator,
        "ConversationID": query,
        "TransactionID": receipt or _id("F", key, 9),
        "ResultParameters": _params(
            ("Originator Conversation ID", originator),
            ("Conversation ID", conversation),
            ("TransactionStatus", "Completed" if paid else "Failed"),
            ("Amount", amount // 100),
            ("ReceiptNo", receipt or None),
        ),
    }
    return _callback(
        uow, "status_result", {"Result": status}, policy=policy, at=later + timedelta(seconds=30)
    )


def _params(*pairs: tuple[str, object]) -> dict:
    return {
        "ResultParameter": [
            {"Key": key} if value is None else {"Key": key, "Value": value} for key, value in pairs
        ]
    }
