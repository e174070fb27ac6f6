"""Identifiers and times in the forms Daraja and M-Pesa use them.

Receipts follow M-Pesa's pattern: the first three characters encode the date (year
from 2006 = 'A', month 'A'..'L', day '1'..'9' then 'A'..), so `LGR...` is 27 July
2017; a failed transaction's id is those three characters and seven zeros. Times are
East Africa Time (UTC+3, no daylight saving), as M-Pesa reports them.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime, timedelta, timezone

EAT = timezone(timedelta(hours=3), "EAT")
_UPPER_ALNUM = string.ascii_uppercase + string.digits
_DAYS = "123456789" + string.ascii_uppercase


def eat(now: float) -> datetime:
    """The epoch time `now` in East Africa Time."""
    return datetime.fromtimestamp(now, EAT)


def daraja_time(now: float) -> str:
    """YYYYMMDDHHmmss in East Africa Time: Daraja's Timestamp and TransactionDate."""
    return eat(now).strftime("%Y%m%d%H%M%S")


def request_id() -> str:
    """A gateway request id, e.g. `2275-94324073-1` (also a MerchantRequestID)."""
    return f"{10000 + secrets.randbelow(90000)}-{10_000_000 + secrets.randbelow(90_000_000)}-1"


def checkout_request_id(now: float, phone: str) -> str:
    """`ws_CO_` + DDMMYYYYHHMMSS + three more digits + the phone's last nine digits."""
    stamp = eat(now).strftime("%d%m%Y%H%M%S")
    return f"ws_CO_{stamp}{secrets.randbelow(1000):03d}{phone[-9:]}"


def conversation_id(now: float) -> str:
    """An M-Pesa ConversationID, e.g. `AG_20191219_00005797af5d7d75f652`."""
    return f"AG_{eat(now):%Y%m%d}_0000{secrets.token_hex(8)}"


def _date_prefix(now: float) -> str:
    when = eat(now)
    year = string.ascii_uppercase[(when.year - 2006) % 26]
    return year + string.ascii_uppercase[when.month - 1] + _DAYS[when.day - 1]


def receipt(now: float) -> str:
    """A ten-character M-Pesa receipt (MpesaReceiptNumber / TransactionID)."""
    return _date_prefix(now) + "".join(secrets.choice(_UPPER_ALNUM) for _ in range(7))


def failed_transaction_id(now: float) -> str:
    """The TransactionID M-Pesa gives a transaction that did not happen."""
    return _date_prefix(now) + "0000000"


def access_token() -> str:
    """An opaque 28-character bearer token."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(28))
