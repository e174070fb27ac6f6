"""Business Pay Bill (B2B) in the sandbox: PayTrace pays a biller's paybill from its own
shortcode, with the customer's account (a meter, a smartcard) as AccountReference.
Daraja answers at once (ConversationID, OriginatorConversationID - both its own), then
POSTs the `Result` to the ResultURL (or a notice to the QueueTimeOutURL); a transaction
status query by that OriginatorConversationID finds the payment.

The outcome is chosen as B2C's is (scenarios.py: the amount's last two digits, or a
rule with `api: b2b`). Two things here are the sandbox's own, since Daraja documents
neither: the biller's account lookup (the holder's name as M-Pesa shows it before you
pay, e.g. "JANE W."; an account ending 0000 is unknown), and, for KPLC prepaid
(paybill 888880), the token and units KPLC would send, in the result's and the status
answer's parameters as `Token` (20 digits) and `Units` - both derived from the
payment's ConversationID, so a status query repeats the result's exactly.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass

from app.sandboxes.daraja import errors, identifiers, payloads
from app.sandboxes.daraja.config import SandboxConfig
from app.sandboxes.daraja.scenarios import Scenario, resolve, result_for
from app.sandboxes.daraja.store import B2BRecord, Delivery, Store
from app.sandboxes.daraja.validation import _amount, _choice, _initiator_ok, _matching, _text, _url

KPLC_PREPAID = "888880"
# KES per kWh the sandbox sells prepaid units at (a flat tariff: no bands, no levies).
SHILLINGS_PER_UNIT = 25
UNKNOWN_ACCOUNT_SUFFIX = "0000"
_PAYBILL = re.compile(r"^\d{5,7}$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9-]{1,20}$")
_FIRST_NAMES = ("JANE", "JOHN", "MARY", "PETER", "GRACE", "DAVID", "FAITH", "JAMES", "ANN")
_INITIALS = "KMNOW"


@dataclass(frozen=True)
class B2BRequest:
    amount: int
    party_b: str
    account_reference: str
    requester: str
    remarks: str
    result_url: str
    queue_timeout_url: str
    credentials_ok: bool


def request(body: dict, config: SandboxConfig) -> B2BRequest:
    """A BusinessPayBill request, checked as Daraja checks it; raises DarajaError."""
    credentials_ok = _initiator_ok(body, "Initiator", config)
    _choice(body, "CommandID", ("BusinessPayBill",))
    _choice(body, "SenderIdentifierType", ("4",))
    _choice(body, "RecieverIdentifierType", ("4",))  # Daraja's spelling
    amount = _amount(body)
    if _text(body, "PartyA", 12) != config.b2c_shortcode:
        raise errors.invalid("PartyA")
    return B2BRequest(
        amount=amount,
        party_b=_matching(body, "PartyB", _PAYBILL),
        account_reference=_matching(body, "AccountReference", _ACCOUNT),
        requester=_text(body, "Requester", 12, required=False),
        remarks=_text(body, "Remarks", 100),
        result_url=_url(body, "ResultURL"),
        queue_timeout_url=_url(body, "QueueTimeOutURL"),
        credentials_ok=credentials_ok,
    )


def holder_name(party_b: str, account: str) -> str | None:
    """The account holder's name as the biller gives it to M-Pesa, or None for an
    account the biller does not know."""
    if account.endswith(UNKNOWN_ACCOUNT_SUFFIX):
        return None
    digest = hashlib.sha256(f"{party_b}:{account}".encode()).digest()
    return f"{_FIRST_NAMES[digest[0] % len(_FIRST_NAMES)]} {_INITIALS[digest[1] % 5]}."


def lookup(body: dict) -> dict:
    """`{"PartyB", "AccountReference"}` -> the holder's name; raises DarajaError."""
    party_b = _matching(body, "PartyB", _PAYBILL)
    account = _matching(body, "AccountReference", _ACCOUNT)
    name = holder_name(party_b, account)
    if name is None:
        raise errors.DarajaError(404, "404.001.04", "The account was not found at the biller.")
    return {
        "ResponseCode": "0",
        "ResponseDescription": "Account found",
        "PartyB": party_b,
        "AccountReference": account,
        "AccountName": name,
    }


def token_and_units(record_key: str, amount: int) -> tuple[str, str]:
    """A 20-digit prepaid token and its units (kWh, two decimals), derived from the
    payment's ConversationID: the same payment always has the same token."""
    digest = int.from_bytes(hashlib.sha256(record_key.encode()).digest()[:16], "big")
    hundredths = amount * 100 // SHILLINGS_PER_UNIT
    return f"{digest % 10**20:020d}", f"{hundredths // 100}.{hundredths % 100:02d}"


def accept(store: Store, config: SandboxConfig, req: B2BRequest, now: float) -> dict:
    """Record the payment with its outcome and its result (or queue timeout) notice;
    Daraja's synchronous answer."""
    scenario = resolve(store.rules(), "b2b", req.account_reference, req.amount)
    if not req.credentials_ok:
        scenario = Scenario("wrong_pin", scenario.delivery)
    code, desc = result_for("b2b", scenario.result)
    settles_at = now + config.callback_delay_s
    for _ in range(3):  # an id collision is retried with new ones
        conversation_id = identifiers.conversation_id(now)
        paid = code == 0
        token, units = (None, None)
        if paid and req.party_b == KPLC_PREPAID:
            token, units = token_and_units(conversation_id, req.amount)
        record = B2BRecord(
            conversation_id=conversation_id,
            originator_conversation_id=identifiers.request_id(),
            party_b=req.party_b,
            account_reference=req.account_reference,
            amount=req.amount,
            result_url=req.result_url,
            queue_timeout_url=req.queue_timeout_url,
            result=scenario.result,
            result_code=code,
            result_desc=desc,
            transaction_id=(identifiers.receipt if paid else identifiers.failed_transaction_id)(
                settles_at
            ),
            token=token,
            units=units,
            created_at=now,
            settles_at=settles_at,
        )
        if scenario.result == "timeout":
            kind, url, body = "b2b_queue_timeout", req.queue_timeout_url, timeout_body(record)
        else:
            kind, url, body = "b2b_result", req.result_url, result_body(record, config)
        copies = {"once": 1, "duplicate": 2, "none": 0}[scenario.delivery]
        deliveries = [
            Delivery(kind, conversation_id, url, body, settles_at + i * config.duplicate_gap_s)
            for i in range(copies)
        ]
        try:
            store.add_b2b(record, deliveries)
        except sqlite3.IntegrityError:
            continue
        return payloads.request_accepted(record.conversation_id, record.originator_conversation_id)
    raise RuntimeError("could not record the B2B payment")


def _biller_items(record: B2BRecord) -> list[tuple[str, object]]:
    if record.token is None:
        return []
    return [("Token", record.token), ("Units", record.units)]


def result_body(record: B2BRecord, config: SandboxConfig) -> dict:
    """Daraja's B2B `Result`, POSTed to the ResultURL."""
    result: dict = {
        "ResultType": 0,
        "ResultCode": record.result_code,
        "ResultDesc": record.result_desc,
        "OriginatorConversationID": record.originator_conversation_id,
        "ConversationID": record.conversation_id,
        "TransactionID": record.transaction_id,
    }
    if record.result_code == 0:
        pairs: list[tuple[str, object]] = [
            ("DebitAccountBalance", "{Amount={CurrencyCode=KES, BasicAmount=1000000.00}}"),
            ("Amount", f"{record.amount}.00"),
            ("DebitPartyAffectedAccountBalance", "Working Account|KES|1000000.00|0.00"),
            ("TransCompletedTime", identifiers.daraja_time(record.settles_at)),
            ("DebitPartyCharges", ""),
            ("ReceiverPartyPublicName", f"{record.party_b} - Sandbox Biller"),
            ("Currency", "KES"),
            *_biller_items(record),
        ]
        result["ResultParameters"] = {
            "ResultParameter": [{"Key": key, "Value": value} for key, value in pairs]
        }
    result["ReferenceData"] = {
        "ReferenceItem": [
            {"Key": "BillReferenceNumber", "Value": record.account_reference},
            {"Key": "QueueTimeoutURL", "Value": record.queue_timeout_url},
        ]
    }
    return {"Result": result}


def timeout_body(record: B2BRecord) -> dict:
    """The QueueTimeOutURL notice (undocumented by Daraja, as B2C's): nothing paid."""
    return {
        "Result": {
            "ResultType": 1,
            "ResultCode": record.result_code,
            "ResultDesc": record.result_desc,
            "OriginatorConversationID": record.originator_conversation_id,
            "ConversationID": record.conversation_id,
            "TransactionID": record.transaction_id,
        }
    }


def status_parameters(record: B2BRecord, config: SandboxConfig) -> list:
    """What a transaction status query by the payment's OriginatorConversationID says."""
    paid = record.result_code == 0
    found = payloads.status_parameters(
        receipt=record.transaction_id if paid else None,
        status="Completed" if paid else "Failed",
        amount=record.amount,
        debit_party=f"{config.b2c_shortcode} - {config.organization_name}",
        credit_party=f"{record.party_b} - Sandbox Biller",
        reason_type="Business Pay Bill",
        initiated_at=record.created_at,
        finalised_at=record.settles_at,
        conversation_id=record.conversation_id,
        originator_conversation_id=record.originator_conversation_id,
    )
    return [*found, ("BillReferenceNumber", record.account_reference), *_biller_items(record)]
