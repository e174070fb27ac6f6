"""Amounts on PayTrace's local Stellar network: integer stroops inside, Horizon's
seven-decimal strings outside. Never floats: a float cannot hold 0.1 XLM exactly."""

from __future__ import annotations

import re

STROOPS_PER_UNIT = 10_000_000
INT64_MAX = 2**63 - 1

_AMOUNT = re.compile(r"^(?P<whole>\d+)(?:\.(?P<fraction>\d{1,7}))?$")


def format_amount(stroops: int) -> str:
    """123456789 -> '12.3456789', the way Horizon writes every amount (seven decimals)."""
    sign = "-" if stroops < 0 else ""
    whole, fraction = divmod(abs(stroops), STROOPS_PER_UNIT)
    return f"{sign}{whole}.{fraction:07d}"


def parse_amount(text: str) -> int:
    """'12.3456789' -> 123456789 exactly; raises ValueError for anything that is not a
    non-negative decimal with at most seven decimals that fits in an int64."""
    match = _AMOUNT.match(text.strip())
    if match is None:
        raise ValueError(f"not a Stellar amount: {text!r}")
    fraction = (match["fraction"] or "").ljust(7, "0")
    stroops = int(match["whole"]) * STROOPS_PER_UNIT + int(fraction)
    if stroops > INT64_MAX:
        raise ValueError(f"amount too large: {text!r}")
    return stroops
