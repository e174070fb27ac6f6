"""Pay-order rules with no I/O: the order code, expiry bounds, states and transitions.

schema.sql's pay_orders table holds the same rules as CHECKs and a trigger (the database
refuses what these should never let through); these name them once for Python, and
tests/unit/test_pay_order_rules.py holds the two together.

The order code: 8 digits, never a leading zero, the last one a Luhn check digit.
- 8 digits, where a till is 5 to 7 (app/domain/merchants.py): the length alone tells
  *5. Pay* which one a payer typed, and no till can ever be read as an order or back.
- No leading zero, as with tills: a zero that a payer or a spreadsheet drops would make
  a 7-digit number, which is a till's format.
- The Luhn digit catches every single mistyped digit and most swapped neighbours before
  any lookup: a slip of the thumb is "check the code", never another merchant's order.
- 7 drawn digits (the first 1-9): 9,000,000 codes, unique among orders awaiting payment
  (a partial unique index); a clash is drawn again.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.gsm7 import is_gsm7

CODE_LENGTH = 8
CODE_PATTERN = re.compile(r"[1-9][0-9]{7}")
CURRENCY = "KES"
MAX_AMOUNT = 100_000_000_00  # KES 100 M in cents: far above any order, far below BIGINT
EXPIRY_MIN_MINUTES, EXPIRY_MAX_MINUTES, EXPIRY_DEFAULT_MINUTES = 1, 1_440, 15
# `Pay MAMA MBOGA KES 250,000.00` and the description must fit one USSD screen.
DESCRIPTION_MAX = 40
REFERENCE_MAX = 64
REFERENCE_PATTERN = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")  # printable ASCII

AWAITING = "awaiting_payment"
PAID, EXPIRED, CANCELED = "paid", "expired", "canceled"
# Not a status: an order awaiting payment whose M-Pesa payment is under way (a push on
# the customer's phone, or a payment M-Pesa is being asked to confirm) refuses other
# payers for PAYMENT_HOLD, so that they are told "try again shortly" instead of paying
# twice. Past it the hold lapses (a checker down, a prompt never answered); a second
# payment is then still never kept: an M-Pesa one is returned.
IN_PROGRESS = "in_progress"
PAYMENT_HOLD = timedelta(minutes=3)
REFUNDED, PARTIALLY_REFUNDED = "refunded", "partially_refunded"
STATUSES = (AWAITING, PAID, EXPIRED, CANCELED, REFUNDED, PARTIALLY_REFUNDED)
# Every transition an order may make; anything else is refused (here and by the trigger).
TRANSITIONS: dict[str, frozenset[str]] = {
    AWAITING: frozenset({PAID, EXPIRED, CANCELED}),
    PAID: frozenset({REFUNDED, PARTIALLY_REFUNDED}),
    PARTIALLY_REFUNDED: frozenset({PARTIALLY_REFUNDED, REFUNDED}),
    EXPIRED: frozenset(),
    CANCELED: frozenset(),
    REFUNDED: frozenset(),
}


def may_become(current: str, new: str) -> bool:
    """Whether an order in `current` may move to `new` (one-way: never back)."""
    return new in TRANSITIONS.get(current, frozenset())


def luhn_digit(digits: str) -> str:
    """The Luhn check digit to append to `digits`."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled: every second digit from the check digit's left
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


def is_order_code(text: str) -> bool:
    """8 digits, no leading zero, a right Luhn digit."""
    return CODE_PATTERN.fullmatch(text) is not None and luhn_digit(text[:-1]) == text[-1]


def new_order_code() -> str:
    body = str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(6))
    return body + luhn_digit(body)


def expiry_problem(minutes: object) -> str | None:
    """Why `minutes` cannot be an order's time to pay, or None."""
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        return "expires_in_minutes is a whole number"
    if not EXPIRY_MIN_MINUTES <= minutes <= EXPIRY_MAX_MINUTES:
        return f"expires_in_minutes is {EXPIRY_MIN_MINUTES} to {EXPIRY_MAX_MINUTES}"
    return None


def expires_at(created_at: datetime, minutes: int) -> datetime:
    return created_at + timedelta(minutes=minutes)


def description_problem(text: str) -> str | None:
    """Why a description cannot go on a payer's USSD screen and SMS, or None."""
    if not 1 <= len(text) <= DESCRIPTION_MAX:
        return f"1 to {DESCRIPTION_MAX} characters"
    if not is_gsm7(text) or not text.isprintable() or text != text.strip():
        return "GSM-7 letters, digits and punctuation only, no leading or trailing space"
    return None


def reference_problem(text: str) -> str | None:
    if not 1 <= len(text) <= REFERENCE_MAX or REFERENCE_PATTERN.fullmatch(text) is None:
        return f"1 to {REFERENCE_MAX} printable ASCII characters, no leading or trailing space"
    return None


def amount_problem(amount: object) -> str | None:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        return f"amount is whole cents from 1 to {MAX_AMOUNT}"
    return None


@dataclass(frozen=True, slots=True)
class Shown:
    """What an order is at a moment: an order still stored as awaiting payment whose
    time has passed IS expired (the worker writes it later), so no read ever shows it
    as payable."""

    status: str
    expired_at: datetime | None


def as_of(status: str, expires: datetime, expired_at: datetime | None, now: datetime) -> Shown:
    if status == AWAITING and now >= expires:
        return Shown(EXPIRED, expires)
    return Shown(status, expired_at)


def payable_problem(status: str, expires: datetime, now: datetime) -> str | None:
    """Why an order cannot be paid now ('expired', 'canceled', 'paid'), or None."""
    shown = as_of(status, expires, None, now).status
    if shown == AWAITING:
        return None
    if shown in (PAID, REFUNDED, PARTIALLY_REFUNDED):
        return PAID
    return shown
