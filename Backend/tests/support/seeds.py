"""The fee bands, KYC tiers and billers the migrations seed, read from the migration SQL.

Limits and fees are data (CONTRIBUTING.md): a migration seeds them and the services
read the tables. Tests that predict a fee or a limit without a database (the fakes,
the ledger model) read the same INSERTs here, so a band or limit changed by a
migration changes every prediction with it; test_ussd_port_contract holds this reading
to what PostgreSQL actually holds after migrating.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from app.domain.bills import AccountRule, Biller
from app.domain.wages import PayeBand, StatutoryRule

MIGRATIONS = Path(__file__).resolve().parents[2] / "app" / "db" / "migrations"

_INSERT = re.compile(
    r"INSERT INTO (?P<table>\w+)\s*\((?P<columns>[^)]*)\)\s*VALUES\s*(?P<rows>.*?);",
    re.DOTALL | re.IGNORECASE,
)
_ROW = re.compile(r"\(([^()]*)\)")


@dataclass(frozen=True)
class FeeBand:
    kind: str  # transfer | withdrawal
    min_amount: int  # cents, inclusive
    max_amount: int  # cents, inclusive
    fee: int  # cents


@dataclass(frozen=True)
class Tier:
    tier: int
    name: str
    per_transaction: int  # cents
    daily: int  # cents, one Nairobi calendar day
    rolling_30_days: int  # cents


_WORDS = {"NULL": None, "true": True, "false": False}


def _value(text: str) -> int | str | bool | None:
    text = text.strip()
    if text in _WORDS:
        return _WORDS[text]
    return text[1:-1] if text.startswith("'") else int(text)


@cache
def seeded_rows(table: str) -> tuple[dict[str, Any], ...]:
    """Every row the migrations INSERT into table, in migration order."""
    rows: list[dict[str, Any]] = []
    for migration in sorted(MIGRATIONS.glob("*.sql")):
        for insert in _INSERT.finditer(migration.read_text()):
            if insert.group("table") != table:
                continue
            columns = [c.strip() for c in insert.group("columns").split(",")]
            for row in _ROW.findall(insert.group("rows")):
                rows.append(dict(zip(columns, map(_value, row.split(",")), strict=True)))
    return tuple(rows)


@cache
def fee_bands(kind: str) -> tuple[FeeBand, ...]:
    """The seeded bands of one movement kind, smallest first."""
    bands = [FeeBand(**row) for row in seeded_rows("fee_bands") if row["kind"] == kind]  # type: ignore[arg-type]
    return tuple(sorted(bands, key=lambda band: band.min_amount))


def fee(kind: str, amount: int) -> int | None:
    """The seeded fee of amount cents, or None when no band holds it."""
    return next((b.fee for b in fee_bands(kind) if b.min_amount <= amount <= b.max_amount), None)


@cache
def tier(number: int) -> Tier:
    row = next(row for row in seeded_rows("kyc_tiers") if row["tier"] == number)
    return Tier(
        tier=int(row["tier"]),
        name=str(row["name"]),
        per_transaction=int(row["per_transaction_limit"]),
        daily=int(row["daily_limit"]),
        rolling_30_days=int(row["rolling_30_day_limit"]),
    )


@cache
def billers() -> tuple[Biller, ...]:
    """The seeded billers (migration 0024), in screen order, as the domain reads them;
    ids in insertion order, as a fresh database numbers them."""
    rules = {str(row["name"]): row for row in seeded_rows("bill_account_rules")}
    found = []
    for number, row in enumerate(seeded_rows("billers"), start=1):
        rule = rules[str(row["account_rule"])]
        found.append(
            Biller(
                id=number,
                code=str(row["code"]),
                name=str(row["name"]),
                category=str(row["category"]),
                rule=AccountRule(
                    name=str(rule["name"]),
                    kind=str(rule["kind"]),
                    label=str(rule["label"]),
                    min_length=rule.get("min_length"),  # type: ignore[arg-type]
                    max_length=rule.get("max_length"),  # type: ignore[arg-type]
                ),
                min_amount=int(row["min_amount"]),
                max_amount=int(row["max_amount"]),
                fee_kind=str(row["fee_kind"]),
                rail=str(row["rail"]),
                paybill=row.get("paybill"),  # type: ignore[arg-type]
                network=row.get("network"),  # type: ignore[arg-type]
                active=True,
            )
        )
    return tuple(sorted(found, key=lambda b: int(_position(b.code))))


def _position(code: str) -> int:
    return int(next(row["position"] for row in seeded_rows("billers") if row["code"] == code))


def biller(code: str) -> Biller:
    """One seeded biller by code."""
    return next(b for b in billers() if b.code == code)


@cache
def statutory_rules() -> tuple[StatutoryRule, ...]:
    """Every version of every statutory item the migrations seed (0034), as the domain
    reads them."""
    return tuple(
        StatutoryRule(
            item=row["item"],
            effective_from=date.fromisoformat(row["effective_from"]),
            employee_rate_bp=row["employee_rate_bp"],
            employer_rate_bp=row["employer_rate_bp"],
            tax_deductible=row["tax_deductible"],
            minimum=row.get("minimum"),
            lower_limit=row.get("lower_limit"),
            upper_limit=row.get("upper_limit"),
            relief=row.get("relief"),
        )
        for row in seeded_rows("statutory_rules")
    )


@cache
def paye_bands() -> tuple[PayeBand, ...]:
    """PAYE's seeded bands of every version."""
    return tuple(
        PayeBand(
            effective_from=date.fromisoformat(row["effective_from"]),
            band=row["band"],
            upper_limit=row["upper_limit"],
            rate_bp=row["rate_bp"],
        )
        for row in seeded_rows("paye_bands")
    )
