"""Cashback rules, pure: which rule a bill earns under (its biller's own over its
category's, the newest of those valid that day) and how much (its tier's rate, rounded
down, never past the monthly cap however the month's bills come)."""

from __future__ import annotations

import string
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.bills import NAME_MAX
from app.domain.gsm7 import is_gsm7
from app.domain.promotions import (
    BASIS_POINTS,
    CashbackRule,
    CashbackTier,
    earned,
    month_of,
    rule_for,
)
from app.services.sms_texts import SMS_TEXTS, render_sms

DAY = date(2026, 3, 14)
EVERY_AMOUNT = (CashbackTier(1, 10**12, 100),)


def rule(
    rule_id: int,
    *,
    biller: int | None = 7,
    category: str | None = None,
    monthly_cap: int = 10_000,
    valid_from: date = date(2026, 1, 1),
    valid_until: date | None = None,
    tiers: tuple[CashbackTier, ...] = EVERY_AMOUNT,
) -> CashbackRule:
    return CashbackRule(rule_id, biller, category, monthly_cap, valid_from, valid_until, tiers)


def test_a_biller_s_own_rule_wins_then_the_newest_valid_one():
    shared = rule(1, biller=None, category="electricity")
    own_old, own_new = rule(2), rule(3)
    ended = rule(4, valid_until=DAY - timedelta(days=1))
    later = rule(5, valid_from=DAY + timedelta(days=1))
    rules = [shared, own_old, own_new, ended, later]
    assert rule_for(rules, biller_id=7, category="electricity", day=DAY) == own_new
    assert rule_for(rules, biller_id=8, category="electricity", day=DAY) == shared
    assert rule_for(rules, biller_id=8, category="water", day=DAY) is None
    assert rule_for([ended], biller_id=7, category="x", day=DAY - timedelta(days=1)) == ended


def test_an_amount_no_tier_covers_earns_nothing_and_cents_round_down():
    tiered = rule(1, tiers=(CashbackTier(100_00, 999_99, 150),))
    assert earned(tiered, 99_99, 0) == 0
    assert earned(tiered, 100_01, 0) == 100_01 * 150 // BASIS_POINTS == 150
    assert earned(tiered, 1_000_00, 0) == 0


def test_a_month_is_counted_from_its_first_day():
    assert month_of(date(2028, 2, 29)) == date(2028, 2, 1)


@given(
    rate=st.integers(1, BASIS_POINTS),
    cap=st.integers(1, 10**7),
    amounts=st.lists(st.integers(1, 10**8), max_size=30),
)
def test_however_the_month_s_bills_come_the_cap_holds_and_nothing_is_rounded_up(rate, cap, amounts):
    capped = rule(1, monthly_cap=cap, tiers=(CashbackTier(1, 10**9, rate),))
    so_far = 0
    for amount in amounts:
        value = earned(capped, amount, so_far)
        assert 0 <= value <= amount * rate // BASIS_POINTS
        so_far += value
    assert so_far == min(cap, sum(a * rate // BASIS_POINTS for a in amounts))


@pytest.mark.parametrize("template", ["cashback", "referral_bonus", "bill_reversed"])
@pytest.mark.parametrize("language", ["en", "sw"])
def test_promotion_sms_are_gsm7_one_part_at_their_longest_in_both_languages(template, language):
    fields = {
        lang: {name for _, name, _, _ in string.Formatter().parse(text) if name}
        for lang, text in SMS_TEXTS[template].items()
    }
    assert set(fields) == {"en", "sw"} and fields["en"] == fields["sw"]
    longest = {
        "reference": "K7QX2M9PLA",
        "bill": "K7QX2M9PLA",
        "amount": "70,000",
        "biller": "W" * NAME_MAX,
        "balance": "99,999,999.99",
        # A bill reversal's: the largest bill (KES 70,000) and fee back, a 100 % cashback.
        "refunded": "70,030",
        "cashback": "70,000",
    }
    message = render_sms(template, language, **longest)
    assert is_gsm7(message) and len(message) <= 160, (len(message), message)
