"""Money as integer cents: parsing what users type, showing what they read.

Never a float: a shilling amount is read digit by digit and every sum stays an int.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta, timezone

CENTS_PER_SHILLING = 100
# The day a daily limit counts in: Kenyan users live on Nairobi time.
# Kenya keeps UTC+3 all year (no daylight saving), so no tz database is needed.
NAIROBI = timezone(timedelta(hours=3), "EAT")
# No 0/O, 1/I/L: a reference is read aloud and typed on keypads.
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REFERENCE_LENGTH = 10
# Far above any tier limit; stops absurd inputs before they reach the database.
MAX_SHILLINGS = 10_000_000

_WHOLE_SHILLINGS = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+$|^[0-9]+$")


class InvalidAmount(ValueError):
    """The reason is one of: 'not_a_number', 'not_whole', 'not_positive', 'too_large'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_shillings(raw: str) -> int:
    """Whole shillings as typed on a keypad ('1500', '1,500') to cents; raises InvalidAmount."""
    value = raw.strip()
    if value.startswith("-"):
        raise InvalidAmount("not_positive")
    if "." in value:
        whole, _, fraction = value.partition(".")
        if _WHOLE_SHILLINGS.match(whole) and fraction.isdigit() and set(fraction) != {"0"}:
            raise InvalidAmount("not_whole")
        value = whole if fraction and set(fraction) == {"0"} else value
    if not value.isascii() or not _WHOLE_SHILLINGS.match(value):
        raise InvalidAmount("not_a_number")
    shillings = int(value.replace(",", ""))
    if shillings <= 0:
        raise InvalidAmount("not_positive")
    if shillings > MAX_SHILLINGS:
        raise InvalidAmount("too_large")
    return shillings * CENTS_PER_SHILLING


def format_kes(cents: int) -> str:
    """12345 -> '123.45', 100000 -> '1,000'; whole amounts drop the cents."""
    sign = "-" if cents < 0 else ""
    shillings, rest = divmod(abs(cents), CENTS_PER_SHILLING)
    whole = f"{shillings:,}"
    return f"{sign}{whole}" if rest == 0 else f"{sign}{whole}.{rest:02d}"


# Bytes below this map evenly onto the alphabet (8 x 31 = 248); the rest are skipped.
_EVEN_BYTES = 256 - 256 % len(REFERENCE_ALPHABET)


def new_reference() -> str:
    """A random 10-character transaction reference (31^10 values, each as likely).

    One read of the system's randomness per reference, not one per character as
    `secrets.choice` does: ten `getrandom` calls were ~10 % of the client's CPU per
    transfer (docs/benchmarks.md)."""
    chars: list[str] = []
    while len(chars) < REFERENCE_LENGTH:
        # 16 bytes hold 10 usable ones but about once in three million references.
        for byte in secrets.token_bytes(16):
            if byte < _EVEN_BYTES:
                chars.append(REFERENCE_ALPHABET[byte % len(REFERENCE_ALPHABET)])
    return "".join(chars[:REFERENCE_LENGTH])


def nairobi_day(moment: datetime) -> date:
    """The calendar day in Nairobi of a timezone-aware moment."""
    return moment.astimezone(NAIROBI).date()
