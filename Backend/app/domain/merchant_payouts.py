"""The rules of a merchant's payouts to M-Pesa that need no database: how much "all
available" is, and how a payout's status reads from the withdrawal that carries it."""

from __future__ import annotations

from collections.abc import Iterable

from app.domain.money import CENTS_PER_SHILLING

PUBLIC_ID_PREFIX = "po_"
ORIGINS = ("request", "admin", "daily")
STATUSES = ("pending", "paid", "failed")


def is_public_id(value: str) -> bool:
    rest = value.removeprefix(PUBLIC_ID_PREFIX)
    return (
        value.startswith(PUBLIC_ID_PREFIX)
        and len(rest) == 24
        and all(c in "0123456789abcdef" for c in rest)
    )


def largest_payout(
    balance: int, bands: Iterable[tuple[int, int, int]], *, minimum: int, maximum: int
) -> tuple[int, int] | None:
    """The largest amount M-Pesa can pay (whole shillings, minimum..maximum) whose fee,
    by the bands (min amount, max amount, fee; cents, both ends inclusive), fits with it
    in balance: (amount, fee), or None when no payout fits. A fee band's step can make a
    slightly smaller amount of a lower band the best one, so every band is tried."""
    best: tuple[int, int] | None = None
    for low, high, fee in bands:
        top = min(high, maximum, balance - fee)
        top -= top % CENTS_PER_SHILLING
        if top >= max(low, minimum) and (best is None or top > best[0]):
            best = (top, fee)
    return best


def daily_spendable(balance: int, *, keep: int, threshold: int) -> int | None:
    """What a daily payout may take, its fee included: the balance above the minimum
    to keep, never below zero; None when that is under the merchant's threshold (no
    payout today). A threshold of 0 leaves it to the smallest payout M-Pesa makes."""
    spendable = max(balance - keep, 0)
    if spendable < threshold:
        return None
    return spendable


def status_of(withdrawal_status: str, ended: bool) -> str:
    """pending | paid | failed, from the withdrawal's status (held, submitted,
    completed, released, review) and whether its hold was ended in the ledger. A
    payment M-Pesa reported after the release ('review') stays failed for the merchant
    (its money is back in its account); one paid with another amount ('review', the hold
    still held) stays pending until an operator decides."""
    if withdrawal_status == "completed":
        return "paid"
    if withdrawal_status == "released" or (withdrawal_status == "review" and ended):
        return "failed"
    return "pending"
