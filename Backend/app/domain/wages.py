"""A worker's pay: gross pay less Kenya's statutory deductions, as every payslip line.

Pure: the rules are data (statutory_rules and paye_bands, migration 0034), picked by
date here and handed in; nothing in this module knows a rate or a limit.

The rounding rule, the one rule: every line is computed exactly (fractions of a cent
kept as fractions, never floats) and rounded once, half up, to the cent. Taxable pay
and net pay are then exact sums of rounded lines, so net pay plus the worker's
deductions is gross pay to the cent. A payslip SMS shows whole shillings, half up.

Rule amounts are monthly. A weekly pay prorates every amount (limits, minimum, band
limits, relief) by 12/52 of a month and a daily pay by 12/365: a worker paid weekly
pays the same over a year as one paid the same total monthly (docs/wages.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from math import floor

ITEMS = ("nssf", "shif", "ahl", "paye")
# Who collects each item (the monthly report's "due to whom").
AUTHORITIES = {
    "nssf": "NSSF",
    "shif": "SHA",  # the Social Health Authority
    "ahl": "KRA",  # the levy is paid through KRA's iTax
    "paye": "KRA",
}
FREQUENCIES = {
    "monthly": Fraction(1),
    "weekly": Fraction(12, 52),
    "daily": Fraction(12, 365),
}
_BASIS_POINTS = 10_000


class NoRuleInForce(ValueError):
    """No version of an item is in force on the pay date (item names which)."""

    def __init__(self, item: str) -> None:
        super().__init__(item)
        self.item = item


class PayTooLow(ValueError):
    """The worker's deductions (SHIF's minimum) would be more than gross pay."""


@dataclass(frozen=True)
class StatutoryRule:
    """One version of one item (a statutory_rules row): amounts in monthly cents."""

    item: str
    effective_from: date
    employee_rate_bp: int
    employer_rate_bp: int
    tax_deductible: bool
    minimum: int | None = None  # shif
    lower_limit: int | None = None  # nssf: Tier I up to here
    upper_limit: int | None = None  # nssf: Tier II up to here
    relief: int | None = None  # paye: personal relief


@dataclass(frozen=True)
class PayeBand:
    effective_from: date
    band: int
    upper_limit: int | None  # monthly cents; None: the top band
    rate_bp: int


@dataclass(frozen=True)
class RuleSet:
    """The version of every item in force on one date."""

    on: date
    rules: dict[str, StatutoryRule]
    bands: tuple[PayeBand, ...]  # PAYE's, lowest first


@dataclass(frozen=True)
class PayLine:
    """One line of a payslip: nssf_tier_1, nssf_tier_2, shif, ahl or paye."""

    code: str
    item: str
    employee: int  # cents, from the worker's gross pay
    employer: int  # cents, the employer's share on top


@dataclass(frozen=True)
class Payslip:
    gross: int
    frequency: str
    lines: tuple[PayLine, ...]
    taxable_pay: int
    tax_before_relief: int
    relief: int  # the relief used (never more than the tax)
    net: int

    @property
    def employee_deductions(self) -> int:
        return sum(line.employee for line in self.lines)

    @property
    def employer_contributions(self) -> int:
        return sum(line.employer for line in self.lines)

    def item_total(self, item: str) -> tuple[int, int]:
        """The (worker, employer) cents of one item, its lines summed."""
        lines = [line for line in self.lines if line.item == item]
        return sum(x.employee for x in lines), sum(x.employer for x in lines)


def rules_in_force(
    rules: list[StatutoryRule], bands: list[PayeBand], on: date, items: tuple[str, ...] = ITEMS
) -> RuleSet:
    """The latest version of each item dated on or before `on`; raises NoRuleInForce."""
    chosen: dict[str, StatutoryRule] = {}
    for item in items:
        versions = [r for r in rules if r.item == item and r.effective_from <= on]
        if not versions:
            raise NoRuleInForce(item)
        chosen[item] = max(versions, key=lambda r: r.effective_from)
    paye_bands: tuple[PayeBand, ...] = ()
    if "paye" in chosen:
        since = chosen["paye"].effective_from
        paye_bands = tuple(
            sorted((b for b in bands if b.effective_from == since), key=lambda b: b.band)
        )
        if not paye_bands or paye_bands[-1].upper_limit is not None:
            raise NoRuleInForce("paye")
    return RuleSet(on=on, rules=chosen, bands=paye_bands)


def half_up(amount: Fraction) -> int:
    """The one rounding rule: to the nearest cent, a half cent up (amounts >= 0)."""
    return floor(amount + Fraction(1, 2))


def whole_shillings(cents: int) -> int:
    """Cents as whole shillings, half up: how a payslip SMS shows an amount."""
    return half_up(Fraction(cents, 100))


def compute_payslip(gross: int, frequency: str, rules: RuleSet, applies: frozenset[str]) -> Payslip:
    """Every line of one pay of `gross` cents; `applies` names the items the worker pays
    (a subset of ITEMS). Raises ValueError on a bad frequency, item or gross, and
    PayTooLow when the deductions would exceed gross pay."""
    if isinstance(gross, bool) or not isinstance(gross, int) or gross <= 0:
        raise ValueError("gross pay is a positive number of cents")
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency is one of {', '.join(FREQUENCIES)}")
    if not applies <= set(ITEMS):
        raise ValueError(f"deductions are among {', '.join(ITEMS)}")
    share = FREQUENCIES[frequency]
    lines: list[PayLine] = []
    if "nssf" in applies:
        lines += _nssf(gross, share, rules.rules["nssf"])
    if "shif" in applies:
        rule = rules.rules["shif"]
        floor_amount = Fraction(rule.minimum or 0) * share
        amount = half_up(max(_rate(gross, rule.employee_rate_bp), floor_amount))
        lines.append(PayLine("shif", "shif", amount, half_up(_rate(gross, rule.employer_rate_bp))))
    if "ahl" in applies:
        rule = rules.rules["ahl"]
        lines.append(
            PayLine(
                "ahl",
                "ahl",
                half_up(_rate(gross, rule.employee_rate_bp)),
                half_up(_rate(gross, rule.employer_rate_bp)),
            )
        )
    deductible = sum(line.employee for line in lines if rules.rules[line.item].tax_deductible)
    if sum(line.employee for line in lines) > gross:
        raise PayTooLow("the deductions would be more than gross pay")
    taxable = gross - deductible
    tax, relief = 0, 0
    if "paye" in applies:
        rule = rules.rules["paye"]
        tax = half_up(_banded_tax(taxable, share, rules.bands))
        relief = min(tax, half_up(Fraction(rule.relief or 0) * share))
        lines.append(PayLine("paye", "paye", tax - relief, 0))
    net = gross - sum(line.employee for line in lines)
    return Payslip(
        gross=gross,
        frequency=frequency,
        lines=tuple(lines),
        taxable_pay=taxable,
        tax_before_relief=tax,
        relief=relief,
        net=net,
    )


def _rate(amount: int | Fraction, rate_bp: int) -> Fraction:
    return Fraction(amount) * rate_bp / _BASIS_POINTS


def _nssf(gross: int, share: Fraction, rule: StatutoryRule) -> list[PayLine]:
    """Tier I on pay up to the lower limit; Tier II on pay between the two limits."""
    lower = Fraction(rule.lower_limit or 0) * share
    upper = Fraction(rule.upper_limit or 0) * share
    tier_1 = min(Fraction(gross), lower)
    tier_2 = max(Fraction(0), min(Fraction(gross), upper) - lower)
    return [
        PayLine(
            code,
            "nssf",
            half_up(_rate(pay, rule.employee_rate_bp)),
            half_up(_rate(pay, rule.employer_rate_bp)),
        )
        for code, pay in (("nssf_tier_1", tier_1), ("nssf_tier_2", tier_2))
    ]


def _banded_tax(taxable: int, share: Fraction, bands: tuple[PayeBand, ...]) -> Fraction:
    """Each band's rate on the part of taxable pay inside it (band limits prorated)."""
    tax, below = Fraction(0), Fraction(0)
    for band in bands:
        top = None if band.upper_limit is None else Fraction(band.upper_limit) * share
        inside = (taxable if top is None else min(Fraction(taxable), top)) - below
        if inside <= 0:
            break
        tax += _rate(inside, band.rate_bp)
        if top is None:
            break
        below = top
    return tax
