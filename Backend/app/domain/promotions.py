"""Cashback and referral rules, pure: which rule a bill earns under and how much.

The rules themselves are data (migration 0036: cashback_rules, cashback_tiers,
referral_programs); this module only reads them. Money is cents, rates basis points,
every division rounds down: PayTrace never pays a fraction of a cent more than a rule
says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# The one ledger account cashback and referral bonuses are paid from.
PROMOTIONS = "promotions"
BASIS_POINTS = 10_000
# Why a referral paid no bonus (schema.sql: referrals.outcome holds the same).
PAID, NO_PROGRAMME, BUDGET_SPENT, PROMOTIONS_EMPTY = (
    "paid",
    "no_programme",
    "budget_spent",
    "promotions_empty",
)


@dataclass(frozen=True)
class CashbackTier:
    min_amount: int  # cents, both ends inclusive
    max_amount: int
    rate_bp: int


@dataclass(frozen=True)
class CashbackRule:
    id: int
    biller_id: int | None  # one biller, or
    category: str | None  # every biller of a category
    monthly_cap: int  # cents one user may earn under it in a Nairobi month
    valid_from: date
    valid_until: date | None  # inclusive; None: open
    tiers: tuple[CashbackTier, ...]

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


@dataclass(frozen=True)
class ReferralProgram:
    id: int
    bonus: int  # cents
    budget: int
    spent: int
    valid_from: date
    valid_until: date | None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    @property
    def left(self) -> int:
        return self.budget - self.spent


def month_of(day: date) -> date:
    """The first day of the day's month: the period a monthly cap counts."""
    return day.replace(day=1)


def rule_for(
    rules: list[CashbackRule] | tuple[CashbackRule, ...],
    *,
    biller_id: int,
    category: str,
    day: date,
) -> CashbackRule | None:
    """The rule a bill of this biller earns under on this day: the biller's own rule,
    else its category's; of several valid, the newest (highest id)."""
    valid = [r for r in rules if r.valid_on(day)]
    own = [r for r in valid if r.biller_id == biller_id]
    shared = [r for r in valid if r.biller_id is None and r.category == category]
    found = own or shared
    return max(found, key=lambda r: r.id) if found else None


def earned(rule: CashbackRule, amount: int, earned_this_month: int) -> int:
    """What a bill of `amount` cents earns under the rule, after what the user earned
    under it this month: its tier's rate, rounded down, no more than the cap leaves."""
    tier = next((t for t in rule.tiers if t.min_amount <= amount <= t.max_amount), None)
    if tier is None:
        return 0
    full = amount * tier.rate_bp // BASIS_POINTS
    return max(0, min(full, rule.monthly_cap - earned_this_month))
