"""Phone numbers: one canonical form (E.164) and one safe form for logs and screens."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

DEFAULT_REGION = "KE"


class InvalidPhone(ValueError):
    pass


@lru_cache(maxsize=65536)
def normalise(raw: str, region: str = DEFAULT_REGION) -> str:
    """Any local or international format to E.164; raises InvalidPhone."""
    if not raw or len(raw) > 32:
        raise InvalidPhone("empty or too long")
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(str(exc)) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(phone: str) -> str:
    """+254712345678 -> +2547****5678: enough to recognise, not enough to misuse."""
    if len(phone) < 8:
        return "****"
    return phone[:5] + "*" * (len(phone) - 9) + phone[-4:]


def local(phone: str) -> str:
    """+254712345678 -> 0712 345 678: a Kenyan mobile as a Kenyan reads it on a screen;
    any other number as it is."""
    if len(phone) == 13 and phone.startswith("+254"):
        digits = "0" + phone[4:]
        return f"{digits[:4]} {digits[4:7]} {digits[7:]}"
    return phone
