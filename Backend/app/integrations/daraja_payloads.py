"""Daraja's callback bodies read into plain values, by name, never by position.

An STK callback's CallbackMetadata items are read by `Name`, a `Result` envelope's
parameters by `Key` (M-Pesa sends a lone parameter as an object, not a list: both are
read). Nothing here decides what a result means for PayTrace's money beyond naming
it: paid, failed, unknown (ask again) or not found.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from app.domain.mpesa import NotWholeShillings, cents_from_shillings

MAX_ID = 100
MAX_TRANS_ID = 40  # M-Pesa's receipts are 10 characters
# Transaction status answers for a request M-Pesa has no record of (Daraja does not
# document them; these are what its sandbox and the local one send).
NOT_FOUND_CODES = ("R000001", "R000002")
# A B2C result that says nothing final: it timed out in M-Pesa's queue.
QUEUE_TIMEOUT = "1037"


class MalformedPayload(ValueError):
    """Not a body Daraja sends: not JSON, or a required field missing or mistyped."""


class Verdict(StrEnum):
    PAID = "paid"
    FAILED = "failed"  # definitely not paid
    UNKNOWN = "unknown"  # nothing final yet: ask M-Pesa (again)
    NOT_FOUND = "not_found"  # M-Pesa has no such transaction


@dataclass(frozen=True)
class StkOutcome:
    """An STK push's result, from its callback or from an STK query."""

    checkout_request_id: str
    merchant_request_id: str
    result_code: str  # "0": paid
    result_desc: str
    amount: int | None = None  # cents, as M-Pesa reported it (callbacks only)
    receipt: str | None = None
    phone: str | None = None  # as reported; Safaricom may mask digits
    # "callback": M-Pesa's callback said it (a hint, confirmed before money moves);
    # "query": M-Pesa answered PayTrace's own STK query.
    source: str = "callback"

    @property
    def paid(self) -> bool:
        return self.result_code == "0"


@dataclass(frozen=True)
class PaymentOutcome:
    """What M-Pesa says about a B2C payment: its result, its queue timeout, or a
    transaction status answer."""

    verdict: Verdict
    # b2c_result | b2c_timeout | status_result | status_timeout | refused (PayTrace's
    # own record that M-Pesa refused the request outright).
    source: str
    result_code: str
    result_desc: str
    originator_conversation_id: str | None = None
    conversation_id: str | None = None
    amount: int | None = None  # cents paid, when M-Pesa says
    receipt: str | None = None
    # A status answer: the ConversationID and OriginatorConversationID of the query it
    # answers (its Occasion is never read: it proves nothing).
    query_conversation_id: str | None = None
    query_originator_id: str | None = None


@dataclass(frozen=True)
class C2BPayment:
    """A customer's payment to the paybill, as Daraja POSTs it to the validation and
    the confirmation URL (the same body)."""

    trans_id: str  # M-Pesa's receipt
    amount: int  # cents
    shortcode: str
    bill_ref: str  # the account number the customer typed
    msisdn: str | None  # Daraja may mask or hash it: never trusted as a phone
    payer_name: str | None


def parse_c2b(body: dict) -> C2BPayment:
    """A C2B validation or confirmation body; raises MalformedPayload."""
    amount = _cents(body.get("TransAmount"))
    if amount is None or amount <= 0:
        raise MalformedPayload("TransAmount is missing")
    names = (_text(body.get(n)) for n in ("FirstName", "MiddleName", "LastName"))
    trans_id = _id(body, "TransID")
    if len(trans_id) > MAX_TRANS_ID:
        raise MalformedPayload("TransID is too long")
    return C2BPayment(
        trans_id=trans_id,
        amount=amount,
        shortcode=_id(body, "BusinessShortCode"),
        bill_ref=_text(body.get("BillRefNumber"))[:40],
        msisdn=_text(body.get("MSISDN"))[:64] or None,
        payer_name=" ".join(n for n in names if n)[:100] or None,
    )


def read_json(body: bytes) -> dict:
    """The body as a JSON object; raises MalformedPayload."""
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise MalformedPayload("not JSON") from None
    if not isinstance(parsed, dict):
        raise MalformedPayload("not a JSON object")
    return parsed


def parse_stk_callback(body: dict) -> StkOutcome:
    """An STK push callback (`Body.stkCallback`); raises MalformedPayload."""
    callback = _object(_object(body, "Body"), "stkCallback")
    metadata = callback.get("CallbackMetadata")
    items = _pairs(metadata.get("Item") if isinstance(metadata, dict) else None, "Name")
    return StkOutcome(
        checkout_request_id=_id(callback, "CheckoutRequestID"),
        merchant_request_id=_text(callback.get("MerchantRequestID")),
        result_code=_code(callback),
        result_desc=_text(callback.get("ResultDesc")),
        amount=_cents(items.get("Amount")),
        receipt=_text(items.get("MpesaReceiptNumber")) or None,
        phone=_text(items.get("PhoneNumber")) or None,
    )


def parse_b2c_result(body: dict, *, queue_timeout: bool = False) -> PaymentOutcome:
    """A B2C `Result` (ResultURL), or its queue-timeout notice (QueueTimeOutURL), which
    never says anything final. Raises MalformedPayload."""
    result = _object(body, "Result")
    code = _code(result)
    params = _pairs(_listed(result.get("ResultParameters"), "ResultParameter"), "Key")
    if queue_timeout or code == QUEUE_TIMEOUT or str(result.get("ResultType")) == "1":
        verdict = Verdict.UNKNOWN
    else:
        verdict = Verdict.PAID if code == "0" else Verdict.FAILED
    paid = verdict is Verdict.PAID
    return PaymentOutcome(
        verdict=verdict,
        source="b2c_timeout" if queue_timeout else "b2c_result",
        result_code=code,
        result_desc=_text(result.get("ResultDesc")),
        originator_conversation_id=_id(result, "OriginatorConversationID"),
        conversation_id=_text(result.get("ConversationID")) or None,
        amount=_cents(params.get("TransactionAmount")) if paid else None,
        receipt=(_text(params.get("TransactionReceipt")) or _text(result.get("TransactionID")))
        if paid
        else None,
    )


def parse_status_result(body: dict, *, queue_timeout: bool = False) -> PaymentOutcome:
    """A transaction status answer (or its query's queue timeout); raises
    MalformedPayload."""
    result = _object(body, "Result")
    code = _code(result)
    params = _pairs(_listed(result.get("ResultParameters"), "ResultParameter"), "Key")
    status = _text(params.get("TransactionStatus")).lower()
    if queue_timeout:
        verdict = Verdict.UNKNOWN
    elif code in NOT_FOUND_CODES:
        verdict = Verdict.NOT_FOUND
    elif code != "0":
        verdict = Verdict.UNKNOWN  # the query itself failed: it says nothing of the payment
    elif status == "completed":
        verdict = Verdict.PAID
    elif status in ("failed", "declined", "cancelled", "expired"):
        verdict = Verdict.FAILED
    else:
        verdict = Verdict.UNKNOWN
    paid = verdict is Verdict.PAID
    return PaymentOutcome(
        verdict=verdict,
        source="status_timeout" if queue_timeout else "status_result",
        result_code=code,
        result_desc=_text(result.get("ResultDesc")),
        originator_conversation_id=_text(params.get("Originator Conversation ID")) or None,
        conversation_id=_text(params.get("Conversation ID")) or None,
        amount=_cents(params.get("Amount")) if paid else None,
        receipt=(_text(params.get("ReceiptNo")) or None) if paid else None,
        query_conversation_id=_text(result.get("ConversationID"))[:MAX_ID] or None,
        query_originator_id=_text(result.get("OriginatorConversationID")) or None,
    )


@dataclass(frozen=True)
class BillNotice:
    """What a B2B result or queue-timeout notice names, read to know which bill to ask
    M-Pesa about (never acted on by itself): its OriginatorConversationID and, for a
    result, the account and amount it claims (only to wait while a bill of those terms
    is still being sent: a claim never names a bill)."""

    originator_conversation_id: str
    account: str | None
    amount: int | None  # cents


@dataclass(frozen=True)
class BillerItems:
    """What a status answer about a B2B payment says of the bill: the account paid
    (BillReferenceNumber) and, for KPLC prepaid, its token and units."""

    account: str | None
    token: str | None
    units: str | None


_TOKEN = re.compile(r"^[0-9]{20}$")
_UNITS = re.compile(r"^[0-9]{1,7}(\.[0-9]{1,2})?$")


def parse_b2b_notice(body: dict) -> BillNotice:
    """A B2B `Result` (ResultURL) or queue-timeout notice; raises MalformedPayload."""
    result = _object(body, "Result")
    _code(result)
    params = _pairs(_listed(result.get("ResultParameters"), "ResultParameter"), "Key")
    references = _pairs(_listed(result.get("ReferenceData"), "ReferenceItem"), "Key")
    account = _text(references.get("BillReferenceNumber"))[:32] or None
    return BillNotice(
        originator_conversation_id=_id(result, "OriginatorConversationID"),
        account=account,
        amount=_cents(params.get("Amount")),
    )


def biller_items(body: dict) -> BillerItems:
    """The bill's account, token and units in a status answer's parameters (the token
    and units only in the forms they come in: 20 digits, a decimal)."""
    result = body.get("Result") if isinstance(body, dict) else None
    params = _pairs(
        _listed(result.get("ResultParameters") if isinstance(result, dict) else None,
                "ResultParameter"),
        "Key",
    )  # fmt: skip
    token, units = _text(params.get("Token")), _text(params.get("Units"))
    return BillerItems(
        account=_text(params.get("BillReferenceNumber"))[:32] or None,
        token=token if _TOKEN.match(token) else None,
        units=units if _UNITS.match(units) else None,
    )


# ---- reading helpers ------------------------------------------------------------------


def _object(parent: dict, name: str) -> dict:
    value = parent.get(name)
    if not isinstance(value, dict):
        raise MalformedPayload(f"{name} is missing")
    return value


def _listed(container: object, name: str) -> list:
    """Daraja's `{"ResultParameter": [...]}`, whose list may be one bare object."""
    if not isinstance(container, dict):
        return []
    value = container.get(name)
    if isinstance(value, dict):
        return [value]
    return value if isinstance(value, list) else []


def _pairs(items: object, key: str) -> dict[str, object]:
    if not isinstance(items, list):
        return {}
    pairs: dict[str, object] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get(key), str):
            pairs[item[key]] = item.get("Value")
    return pairs


def _text(value: object) -> str:
    if value is None or isinstance(value, bool | dict | list):
        return ""
    return str(value).strip()[:300]


def _id(parent: dict, name: str) -> str:
    value = _text(parent.get(name))
    if not value or len(value) > MAX_ID:
        raise MalformedPayload(f"{name} is missing")
    return value


def _code(parent: dict) -> str:
    value = parent.get("ResultCode")
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise MalformedPayload("ResultCode is missing")
    return str(value).strip()[:20]


def _cents(value: object) -> int | None:
    """M-Pesa's whole shillings in cents; None when absent or not a whole amount."""
    if value is None:
        return None
    try:
        return cents_from_shillings(value)
    except NotWholeShillings:
        return None
