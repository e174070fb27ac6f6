"""Kenya's statutory deductions computed from the seeded rules (migration 0034).

The golden figures are worked by hand from the published rules (docs/wages.md gives
the sources) and match payroll calculators' published examples; the rules themselves
are read from the migration, never copied here.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from app.domain.wages import (
    FREQUENCIES,
    ITEMS,
    NoRuleInForce,
    PayTooLow,
    RuleSet,
    compute_payslip,
    rules_in_force,
    whole_shillings,
)
from tests.support.seeds import paye_bands, statutory_rules

ALL = frozenset(ITEMS)
NOV_2025 = date(2025, 11, 30)
NOV_2026 = date(2026, 11, 30)
NAIROBI_DOMESTIC_MINIMUM = 1_611_375  # KES 16,113.75 a month


def rules_on(day: date) -> RuleSet:
    return rules_in_force(list(statutory_rules()), list(paye_bands()), day)


def lines_of(slip) -> dict[str, tuple[int, int]]:
    return {line.code: (line.employee, line.employer) for line in slip.lines}


def test_nairobi_domestic_minimum_wage_gives_the_payslip_of_the_issue():
    slip = compute_payslip(NAIROBI_DOMESTIC_MINIMUM, "monthly", rules_on(NOV_2025), ALL)

    assert lines_of(slip) == {
        "nssf_tier_1": (48_000, 48_000),  # 6 % of the KES 8,000 lower limit
        "nssf_tier_2": (48_683, 48_683),  # 6 % of 8,113.75 = 486.825, half up
        "shif": (44_313, 0),  # 2.75 % = 443.128...
        "ahl": (24_171, 24_171),  # 1.5 % = 241.706...
        "paye": (0, 0),  # 10 % of 14,462.08 is below the 2,400 relief
    }
    assert slip.taxable_pay == 1_446_208
    assert slip.net == 1_446_208
    shown = [whole_shillings(x) for x in (slip.gross, sum(slip.item_total("nssf")[:1]))]
    assert shown == [16_114, 967]
    assert whole_shillings(slip.item_total("shif")[0]) == 443
    assert whole_shillings(slip.item_total("ahl")[0]) == 242
    assert whole_shillings(slip.net) == 14_462


def test_the_2026_nssf_limits_split_the_same_minimum_wage_differently_but_not_its_total():
    slip = compute_payslip(NAIROBI_DOMESTIC_MINIMUM, "monthly", rules_on(NOV_2026), ALL)

    assert lines_of(slip)["nssf_tier_1"] == (54_000, 54_000)  # LEL KES 9,000
    assert lines_of(slip)["nssf_tier_2"] == (42_683, 42_683)
    assert slip.net == 1_446_208


# 2.75 % and 1.5 % of the worked examples' gross pay.
SHIF_AND_AHL = {5_000_000: (137_500, 75_000), 10_000_000: (275_000, 150_000)}


@pytest.mark.parametrize(
    ("day", "gross", "nssf", "paye", "net"),
    [
        # KES 50,000: NSSF 480 + 2,520; SHIF 1,375; AHL 750; taxable 44,875;
        # tax 2,400 + 2,083.25 + 3,762.60 less relief 2,400.
        (NOV_2025, 5_000_000, 300_000, 584_585, 3_902_915),
        (NOV_2026, 5_000_000, 300_000, 584_585, 3_902_915),
        # KES 100,000: NSSF at the 2025 upper limit (480 + 3,840); taxable 91,430.
        (NOV_2025, 10_000_000, 432_000, 1_981_235, 7_161_765),
        # 2026: the upper limit is KES 108,000, so NSSF is 6 % of all of it.
        (NOV_2026, 10_000_000, 600_000, 1_930_835, 7_044_165),
        # January 2025 still had the 2024 limits (LEL 7,000, UEL 36,000): 420 + 1,740.
        (date(2025, 1, 31), 5_000_000, 216_000, 609_785, 3_961_715),
    ],
)
def test_worked_monthly_examples(day, gross, nssf, paye, net):
    slip = compute_payslip(gross, "monthly", rules_on(day), ALL)

    assert slip.item_total("nssf") == (nssf, nssf)
    assert slip.item_total("shif") == (SHIF_AND_AHL[gross][0], 0)
    assert slip.item_total("ahl") == (SHIF_AND_AHL[gross][1],) * 2
    assert slip.item_total("paye") == (paye, 0)
    assert slip.net == net


@pytest.mark.parametrize(
    ("taxable", "tax"),
    [
        (2_400_000, 240_000),  # the top of the 10 % band: all relieved
        (2_400_100, 240_025),  # one shilling into the 25 % band
        (3_233_300, 448_325),  # the top of the 25 % band
        (3_233_400, 448_355),  # into the 30 % band
        (50_000_000, 14_478_335),  # the top of the 30 % band
        (80_000_000, 24_228_335),  # the top of the 32.5 % band
        (100_000_000, 31_228_335),  # 35 % above KES 800,000
    ],
)
def test_paye_at_each_band_edge(taxable, tax):
    slip = compute_payslip(taxable, "monthly", rules_on(NOV_2025), frozenset({"paye"}))

    assert slip.taxable_pay == taxable
    assert slip.tax_before_relief == tax
    assert slip.relief == 240_000
    assert slip.item_total("paye") == (tax - 240_000, 0)


@pytest.mark.parametrize(
    ("gross", "tier_1", "tier_2"),
    [
        (500_000, 30_000, 0),  # below the lower limit: Tier I only
        (800_000, 48_000, 0),  # at the lower limit
        (800_100, 48_000, 6),  # one shilling above it
        (7_200_000, 48_000, 384_000),  # at the upper limit
        (20_000_000, 48_000, 384_000),  # above it: capped
    ],
)
def test_nssf_tiers_at_the_earnings_limits(gross, tier_1, tier_2):
    slip = compute_payslip(gross, "monthly", rules_on(NOV_2025), frozenset({"nssf"}))

    assert lines_of(slip) == {"nssf_tier_1": (tier_1,) * 2, "nssf_tier_2": (tier_2,) * 2}


@pytest.mark.parametrize(
    ("gross", "shif"),
    [
        (1_000_000, 30_000),  # 2.75 % is 275: the KES 300 minimum
        (1_090_909, 30_000),  # 2.75 % is 299.99...: still the minimum
        (1_091_000, 30_003),  # 300.025: above it, half up
    ],
)
def test_shif_minimum(gross, shif):
    slip = compute_payslip(gross, "monthly", rules_on(NOV_2025), frozenset({"shif"}))

    assert slip.item_total("shif") == (shif, 0)


def test_shif_and_the_levy_and_nssf_come_off_taxable_pay():
    slip = compute_payslip(5_000_000, "monthly", rules_on(NOV_2025), ALL)

    assert slip.taxable_pay == 5_000_000 - 300_000 - 137_500 - 75_000


def test_a_weekly_pay_prorates_limits_minimum_and_relief_by_12_in_52():
    slip = compute_payslip(400_000, "weekly", rules_on(NOV_2025), ALL)

    # The weekly lower limit is 8,000 x 3/13 = 1,846.15...; 6 % of each side of it.
    assert lines_of(slip)["nssf_tier_1"] == (11_077, 11_077)
    assert lines_of(slip)["nssf_tier_2"] == (12_923, 12_923)
    assert slip.item_total("shif") == (11_000, 0)  # 2.75 % is above 300 x 3/13
    assert slip.relief == slip.tax_before_relief == 35_900  # relief 553.85 covers it
    assert slip.net == 400_000 - 24_000 - 11_000 - 6_000


def test_a_daily_pay_below_shifs_prorated_minimum_is_too_low():
    with pytest.raises(PayTooLow):
        compute_payslip(500, "daily", rules_on(NOV_2025), frozenset({"shif"}))


def test_no_deductions_pays_gross():
    slip = compute_payslip(1_611_375, "monthly", rules_on(NOV_2025), frozenset())

    assert (slip.lines, slip.net) == ((), 1_611_375)


def test_a_pay_date_before_the_seeded_rules_has_none_in_force():
    with pytest.raises(NoRuleInForce) as refused:
        rules_on(date(2024, 12, 26))

    assert refused.value.item == "shif"


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_gross_pay_is_positive_whole_cents(bad):
    with pytest.raises(ValueError, match="positive"):
        compute_payslip(bad, "monthly", rules_on(NOV_2025), ALL)


def test_unknown_frequency_or_item_is_refused():
    with pytest.raises(ValueError, match="frequency"):
        compute_payslip(100, "yearly", rules_on(NOV_2025), ALL)
    with pytest.raises(ValueError, match="deductions"):
        compute_payslip(100, "monthly", rules_on(NOV_2025), frozenset({"nhif"}))


def every_version_date() -> list[date]:
    """A date on which each seeded version is in force (the first with every item)."""
    first = max(min(r.effective_from for r in statutory_rules() if r.item == i) for i in ITEMS)
    days = {max(r.effective_from, first) for r in statutory_rules()}
    return sorted(days | {max(days) + timedelta(days=365)})


def test_every_seeded_version_is_reached_by_the_property_dates():
    used = {
        (rule.item, rule.effective_from)
        for day in every_version_date()
        for rule in rules_on(day).rules.values()
    }
    assert used == {(r.item, r.effective_from) for r in statutory_rules()}


def test_net_plus_deductions_is_gross_and_nothing_is_negative_for_every_version():
    """A seeded randomized property (hypothesis is not a dependency): many gross values,
    log-spread from one cent to KES 2 million, every frequency, every subset of items,
    every rule version."""
    draw = random.Random(20)
    checked = too_low = 0
    for day in every_version_date():
        rules = rules_on(day)
        for _ in range(2_500):
            gross = int(10 ** draw.uniform(0, 8.3))
            frequency = draw.choice(list(FREQUENCIES))
            applies = frozenset(item for item in ITEMS if draw.random() < 0.75)
            try:
                slip = compute_payslip(gross, frequency, rules, applies)
            except PayTooLow:
                # Only SHIF's minimum can take more than gross pay.
                assert "shif" in applies
                too_low += 1
                continue
            checked += 1
            assert slip.net + slip.employee_deductions == gross
            assert slip.net >= 0 and slip.taxable_pay >= 0
            assert all(line.employee >= 0 and line.employer >= 0 for line in slip.lines)
            assert {line.item for line in slip.lines} <= applies
            assert slip.relief <= slip.tax_before_relief <= slip.taxable_pay
    assert checked > 6_000 and too_low > 0
