"""Daraja's request checks: each field refused by name, with `400.002.02`.

Amounts are whole shillings (a JSON number or a numeric string, as Daraja takes
them); phone numbers are MSISDNs without the plus (`2547XXXXXXXX`, `2541XXXXXXXX`);
field lengths are the ones Daraja documents.
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from app.sandboxes.daraja import errors
from app.sandboxes.daraja.config import SandboxConfig

MAX_AMOUNT = 250_000
_MSISDN = re.compile(r"^254[17]\d{8}$")
_SHORTCODE = re.compile(r"^\d{5,7}$")
_TIMESTAMP = re.compile(r"^\d{14}$")
STK_TRANSACTION_TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
B2C_COMMANDS = ("BusinessPayment", "SalaryPayment", "PromotionPayment")
IDENTIFIER_TYPES = ("1", "2", "4")


@dataclass(frozen=True)
class StkPush:
    phone: str
    amount: int
    party_b: str
    transaction_type: str
    callback_url: str
    account_reference: str
    transaction_desc: str


@dataclass(frozen=True)
class B2CPayment:
    originator_conversation_id: str | None  # None on v1: the gateway makes one
    phone: str
    amount: int
    command_id: str
    remarks: str
    occasion: str
    result_url: str
    queue_timeout_url: str
    credentials_ok: bool  # a wrong initiator is told in the result, not refused here


@dataclass(frozen=True)
class StatusQuery:
    transaction_id: str
    originator_conversation_id: str
    occasion: str
    result_url: str
    queue_timeout_url: str
    credentials_ok: bool


def parse_json(raw: bytes) -> dict:
    """The request's JSON object, or Daraja's refusal."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise errors.invalid("JSON") from None
    if not isinstance(body, dict):
        raise errors.invalid("JSON")
    return body


def _value(body: dict, name: str) -> str:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _text(body: dict, name: str, max_len: int, *, required: bool = True) -> str:
    value = _value(body, name)
    if (required and not value) or len(value) > max_len:
        raise errors.invalid(name)
    return value


def _matching(body: dict, name: str, pattern: re.Pattern) -> str:
    value = _value(body, name)
    if not pattern.match(value):
        raise errors.invalid(name)
    return value


def _amount(body: dict) -> int:
    value = _value(body, "Amount")
    if not value.isdigit() or not 1 <= int(value) <= MAX_AMOUNT:
        raise errors.invalid("Amount")
    return int(value)


def _url(body: dict, name: str) -> str:
    value = _value(body, name)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.invalid(name)
    return value


def _choice(body: dict, name: str, allowed: tuple[str, ...]) -> str:
    value = _value(body, name)
    if value not in allowed:
        raise errors.invalid(name)
    return value


def _timestamp(body: dict) -> str:
    value = _value(body, "Timestamp")
    try:
        if not _TIMESTAMP.match(value):
            raise ValueError(value)
        datetime.strptime(value, "%Y%m%d%H%M%S")
    except ValueError:
        raise errors.invalid("Timestamp") from None
    return value


def _check_stk_credentials(body: dict, config: SandboxConfig) -> None:
    if _value(body, "BusinessShortCode") != config.shortcode:
        raise errors.invalid("BusinessShortCode")
    timestamp = _timestamp(body)
    password = _value(body, "Password")
    if not password:
        raise errors.invalid("Password")
    if not hmac.compare_digest(password.encode(), config.stk_password(timestamp).encode()):
        raise errors.wrong_credentials()


def stk_push(body: dict, config: SandboxConfig) -> StkPush:
    """An STK push request, checked as Daraja checks it (fields first, then Password)."""
    push = StkPush(
        transaction_type=_choice(body, "TransactionType", STK_TRANSACTION_TYPES),
        amount=_amount(body),
        phone=_matching(body, "PhoneNumber", _MSISDN),
        party_b=_matching(body, "PartyB", _SHORTCODE),
        callback_url=_url(body, "CallBackURL"),
        account_reference=_text(body, "AccountReference", 12),
        transaction_desc=_text(body, "TransactionDesc", 13),
    )
    _matching(body, "PartyA", _MSISDN)
    _check_stk_credentials(body, config)
    return push


def stk_query(body: dict, config: SandboxConfig) -> str:
    """The CheckoutRequestID of an STK query whose credentials are right."""
    checkout_request_id = _text(body, "CheckoutRequestID", 100)
    _check_stk_credentials(body, config)
    return checkout_request_id


def _initiator_ok(body: dict, name_field: str, config: SandboxConfig) -> bool:
    name = _text(body, name_field, 100)
    credential = _text(body, "SecurityCredential", 4096)
    return hmac.compare_digest(name.encode(), config.initiator_name.encode()) and (
        hmac.compare_digest(credential.encode(), config.security_credential.encode())
    )


def b2c_payment(body: dict, config: SandboxConfig, *, version: int) -> B2CPayment:
    """A B2C payment request; v3 requires the caller's OriginatorConversationID."""
    originator = None
    if version >= 3:
        originator = _text(body, "OriginatorConversationID", 100)
    credentials_ok = _initiator_ok(body, "InitiatorName", config)
    command_id = _choice(body, "CommandID", B2C_COMMANDS)
    amount = _amount(body)
    if _value(body, "PartyA") != config.b2c_shortcode:
        raise errors.invalid("PartyA")
    return B2CPayment(
        originator_conversation_id=originator,
        command_id=command_id,
        amount=amount,
        phone=_matching(body, "PartyB", _MSISDN),
        remarks=_text(body, "Remarks", 100),
        queue_timeout_url=_url(body, "QueueTimeOutURL"),
        result_url=_url(body, "ResultURL"),
        occasion=_text(body, "Occasion", 100, required=False),
        credentials_ok=credentials_ok,
    )


def status_query(body: dict, config: SandboxConfig) -> StatusQuery:
    """A transaction status query: by M-Pesa receipt (TransactionID) or by the
    OriginatorConversationID of the request (`OriginalConversationID` in Daraja's
    current documentation; both names are read)."""
    credentials_ok = _initiator_ok(body, "Initiator", config)
    _choice(body, "CommandID", ("TransactionStatusQuery",))
    transaction_id = _text(body, "TransactionID", 100, required=False)
    originator = _text(body, "OriginalConversationID", 100, required=False) or _text(
        body, "OriginatorConversationID", 100, required=False
    )
    if not transaction_id and not originator:
        raise errors.invalid("TransactionID")
    _matching(body, "PartyA", re.compile(r"^\d{5,12}$"))
    _choice(body, "IdentifierType", IDENTIFIER_TYPES)
    _text(body, "Remarks", 100)
    return StatusQuery(
        transaction_id=transaction_id,
        originator_conversation_id=originator,
        result_url=_url(body, "ResultURL"),
        queue_timeout_url=_url(body, "QueueTimeOutURL"),
        occasion=_text(body, "Occasion", 100, required=False),
        credentials_ok=credentials_ok,
    )
