"""M-Pesa's words at PayTrace's edge, with no I/O: phone numbers as MSISDNs, money as
whole shillings, and what M-Pesa's result codes mean for a user.

PayTrace counts cents; M-Pesa moves whole shillings. An amount crosses the edge only
when it is whole: `shillings` refuses cents instead of rounding them away.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from app.domain.money import CENTS_PER_SHILLING
from app.domain.phone import InvalidPhone, normalise

# M-Pesa's bounds for one payment, in cents: STK push from KES 1, B2C from KES 10,
# both at most KES 250,000.
MIN_DEPOSIT = 1 * CENTS_PER_SHILLING
MIN_WITHDRAWAL = 10 * CENTS_PER_SHILLING
MAX_PAYMENT = 250_000 * CENTS_PER_SHILLING

# STK push result codes M-Pesa sends for a payment the customer did not make, and the
# words a user reads for each (sms_texts 'deposit_failed_<reason>').
STK_FAILURES = {
    "1032": "cancelled",  # the customer cancelled the prompt
    "1037": "timeout",  # the phone could not be reached, or nobody answered
    "2001": "wrong_pin",  # the customer typed a wrong M-Pesa PIN
    "1": "insufficient_funds",  # not enough money in M-Pesa
}
_MSISDN = re.compile(r"^254[17]\d{8}$")
_MASKED = re.compile(r"^[0-9*]{6,15}$")


class NotWholeShillings(ValueError):
    """An amount with cents (or not a number at all): M-Pesa cannot move it."""


def shillings(cents: int) -> int:
    """Cents as the whole shillings Daraja expects; raises NotWholeShillings."""
    if isinstance(cents, bool) or not isinstance(cents, int) or cents % CENTS_PER_SHILLING:
        raise NotWholeShillings(f"{cents!r} cents is not a whole number of shillings")
    return cents // CENTS_PER_SHILLING


def cents_from_shillings(value: object) -> int:
    """An amount M-Pesa reported (a JSON number or a numeric string) in cents; raises
    NotWholeShillings for anything else, or for cents."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise NotWholeShillings(f"{value!r} is not an amount")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise NotWholeShillings(f"{value!r} is not an amount") from None
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise NotWholeShillings(f"{value!r} is not a whole number of shillings")
    return int(amount) * CENTS_PER_SHILLING


def msisdn(phone: str) -> str:
    """'+254712345678' as Daraja writes it: '254712345678'; raises InvalidPhone for a
    number M-Pesa cannot pay (not a Kenyan mobile number)."""
    digits = phone.removeprefix("+")
    if not _MSISDN.match(digits):
        raise InvalidPhone(f"{phone!r} is not a Kenyan mobile number")
    return digits


def same_phone(reported: object, expected_e164: str) -> bool:
    """Whether the number M-Pesa reported is the one PayTrace asked about. Safaricom
    may mask the middle digits ('2547****5678'): the digits it shows must match."""
    text = str(reported).strip().removeprefix("+") if reported is not None else ""
    expected = expected_e164.removeprefix("+")
    if "*" in text:
        if not _MASKED.match(text) or len(text) != len(expected):
            return False
        return all(shown in ("*", digit) for shown, digit in zip(text, expected, strict=True))
    try:
        return normalise(text) == expected_e164
    except InvalidPhone:
        return False


def failure_reason(result_code: str) -> str:
    """The user-facing reason of a failed STK push: one of STK_FAILURES' values, or
    'other' for a code with no plainer words."""
    return STK_FAILURES.get(result_code, "other")
