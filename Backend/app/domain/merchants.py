"""Merchant rules with no I/O: till numbers, names a USSD screen can show, the fee rule.

schema.sql's merchants table holds the same bounds as CHECKs; these name them once for
Python, so the services refuse bad input with a reason before PostgreSQL does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.domain.gsm7 import is_gsm7

# 5 to 7 digits, never a leading zero: a zero a payer or a spreadsheet drops would
# name another till.
TILL_PATTERN = re.compile(r"[1-9][0-9]{4,6}")
DISPLAY_NAME_MIN, DISPLAY_NAME_MAX = 2, 20  # `Pay <name> KES 250,000.00. Fee ...` fits a screen
LEGAL_NAME_MIN, LEGAL_NAME_MAX = 2, 100
PAYOUT_SCHEDULES = ("on_request", "daily")
LANGUAGES = ("en", "sw")  # of a merchant's SMS
STATUSES = ("active", "suspended")
BPS_PER_UNIT = 10_000  # basis points in 100 %
MAX_FEE_CENTS = 100_000_000_00  # KES 100 M: far above any fee, far below BIGINT
# A daily payout's minimum to keep and threshold: cents, 0 up to KES 10 bn.
MAX_PAYOUT_FLOOR_CENTS = 10_000_000_000_00
MAX_LIVE_KEYS = 2  # one in use, one being rotated in
KEY_ID_PREFIX = "mk_live_"


def is_till(text: str) -> bool:
    return TILL_PATTERN.fullmatch(text) is not None


def display_name_problem(name: str) -> str | None:
    """Why a display name cannot go on a USSD screen, or None when it can."""
    if not DISPLAY_NAME_MIN <= len(name) <= DISPLAY_NAME_MAX:
        return f"{DISPLAY_NAME_MIN} to {DISPLAY_NAME_MAX} characters"
    # Line breaks and form feeds are GSM-7 too, but would break the screen's layout.
    if not is_gsm7(name) or not name.isprintable() or name != name.strip():
        return "GSM-7 letters, digits and punctuation only, no leading or trailing space"
    return None


@dataclass(frozen=True, slots=True)
class FeeRule:
    """A merchant's fee per payment: bps of the amount, within [min_cents, max_cents]."""

    bps: int
    min_cents: int
    max_cents: int

    def problem(self) -> str | None:
        """Why the rule is not one PayTrace can store, or None."""
        values = (self.bps, self.min_cents, self.max_cents)
        if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
            return "fee_bps, fee_min_cents and fee_max_cents are whole numbers"
        if not 0 <= self.bps <= BPS_PER_UNIT:
            return f"fee_bps is 0 to {BPS_PER_UNIT} (100 %)"
        if not 0 <= self.min_cents <= self.max_cents <= MAX_FEE_CENTS:
            return f"0 <= fee_min_cents <= fee_max_cents <= {MAX_FEE_CENTS}"
        return None

    def fee_for(self, amount: int) -> int:
        """The fee on a payment of `amount` cents, in whole cents: the percentage rounded
        half up (integer arithmetic: no float ever sees money), then held to the bounds."""
        share = (amount * self.bps + BPS_PER_UNIT // 2) // BPS_PER_UNIT
        return min(self.max_cents, max(self.min_cents, share))
