"""Structured JSON logs, masked by field.

Nothing secret is logged on purpose; this formatter is the second line of defence. It
masks a record's fields by their NAME: a phone (`+2547****5678`), a person's name
(`J*** W***`), and codes, PINs, tokens and secrets (`***`) wherever they sit, nested
dicts and lists included. Identifiers (ids, cursors, hashes, references, keys) are
never touched: a regex over the whole line used to mangle them (`"cursor":
"515****552"`, AT message ids), which made the logs useless for tracing.

Phones belong in fields, never in a message's text. As a last resort a phone-SHAPED
token in free text (the message, an exception, an unknown field) is masked too; that
pattern is narrow (an E.164 number, or a Kenyan mobile number) and is never applied to
identifier fields.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from app.infra.request_context import RequestIdFilter

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

# Field names (compared lower-case, without '-' and '_') and what is done to their values.
PHONE_FIELDS = frozenset(
    {"phone", "phonenumber", "msisdn", "partya", "partyb", "invitee", "to", "recipientphone"}
    | {"senderphone", "maskedphone", "paidphone", "askedphone", "receiverphone", "userphone"}
)
NAME_FIELDS = frozenset(
    {"name", "fullname", "firstname", "middlename", "lastname", "recipientname"}
    | {"sendername", "counterpartyname", "username", "organiser", "organisername"}
)
SECRET_FIELDS = frozenset(
    {"pin", "newpin", "oldpin", "pinconfirm", "code", "otp", "signincode", "token"}
    | {"accesstoken", "refreshtoken", "secret", "password", "passkey", "authorization"}
    | {"securitycredential", "apikey", "text", "ussdtext", "pepper"}
)
_SECRET_SUFFIXES = ("token", "secret", "password", "passkey", "pin", "otp")
# Identifiers: left exactly as they are, even when they look like numbers.
_ID_SUFFIXES = ("id", "ids", "cursor", "hash", "reference", "ref", "key", "sequence")

# Phone-shaped tokens in free text: E.164 (a '+', URL-encoded or not) or a Kenyan mobile
# number written locally (07.. / 01..) or internationally without the '+' (2547.. / 2541..).
_PHONE_IN_TEXT = re.compile(
    r"(?<![\w+%])(?:(?:\+|%2B)[1-9]\d{7,13}|254[17]\d{8}|0[17]\d{8})(?![\w])", re.IGNORECASE
)
REDACTED = "***"


def _canonical(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def _is_identifier(key: str) -> bool:
    canonical = _canonical(key)
    return canonical.endswith(_ID_SUFFIXES) and canonical not in PHONE_FIELDS | SECRET_FIELDS


def mask_phone(phone: str) -> str:
    """'+254712345678' -> '+2547****5678', '0712345678' -> '07****5678': at least four
    digits hidden, the last four kept to tell two numbers apart."""
    if len(phone) < 8:
        return "****"
    hidden = max(4, len(phone) - 9)
    return phone[: len(phone) - 4 - hidden] + "*" * hidden + phone[-4:]


def mask_phones_in_text(text: str) -> str:
    """Phone-shaped tokens in free text masked; anything else as it was."""
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0).replace("%2B", "+")), text)


def mask_name(name: str) -> str:
    """'Jane Wanjiku' -> 'J*** W***': enough to tell two records apart, no more."""
    return " ".join(f"{part[0]}***" for part in name.split() if part) or REDACTED


def mask_field(key: str, value: Any) -> Any:
    """The value of field `key` as it may be logged (nested containers walked)."""
    canonical = _canonical(key)
    if value is not None and (canonical in SECRET_FIELDS or canonical.endswith(_SECRET_SUFFIXES)):
        return REDACTED
    if isinstance(value, dict):
        return {k: mask_field(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [mask_field(key, v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if canonical in PHONE_FIELDS:  # M-Pesa sends PhoneNumber as a number
        return mask_phone(str(value))
    if canonical in NAME_FIELDS:
        return mask_name(str(value))
    if isinstance(value, int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    if _is_identifier(key):
        return text
    return mask_phones_in_text(text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": mask_phones_in_text(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = mask_field(key, value)
        if record.exc_info:
            entry["exc"] = mask_phones_in_text(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of the record, not at set-up."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    """JSON to stderr for PayTrace and uvicorn alike; safe to call more than once.

    Only a previous PayTrace handler is replaced: other handlers on the root logger
    (a test's log capture, say) are left where they are.
    """
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_paytrace", False)]
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler._paytrace = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # Access lines would carry callback tokens in paths; PayTrace logs hops itself.
    logging.getLogger("uvicorn.access").disabled = True
