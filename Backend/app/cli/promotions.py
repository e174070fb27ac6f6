"""`python -m app.cli.promotions`: what an operator sets for cashback and referrals.

    python -m app.cli.promotions fund --kes 50000 --reference BANK-2026-03-01
    python -m app.cli.promotions cashback-rule --name "KPLC 1%" --biller kplc_prepaid \
        --cap-kes 200 --tier 100:35000:100 --from 2026-03-01 --until 2026-03-31
    python -m app.cli.promotions referral-programme --bonus-kes 50 --budget-kes 100000 \
        --from 2026-03-01
    python -m app.cli.promotions end-cashback-rule --rule 3 --last-day 2026-03-15
    python -m app.cli.promotions balance

Amounts in whole shillings; a tier is MIN_KES:MAX_KES:BASIS_POINTS (100 = 1 %). Funding
moves PayTrace's own money from the M-Pesa float into the promotions account (its
reference is the idempotency key: the same funding twice moves it once). Rules and
programmes are data (docs/bills.md, "Cashback and referrals").
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime

from pydantic import ValidationError

from app.config import Settings
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.money import CENTS_PER_SHILLING, NAIROBI, format_kes
from app.domain.promotions import CashbackTier
from app.errors import PayTraceError
from app.services.promotions import budget

NAME = "promotions"


def _tier(raw: str) -> CashbackTier:
    try:
        low, high, rate = (int(part) for part in raw.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError("a tier is MIN_KES:MAX_KES:BASIS_POINTS") from None
    return CashbackTier(low * CENTS_PER_SHILLING, high * CENTS_PER_SHILLING, rate)


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m app.cli.promotions", description="Cashback and referral settings."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fund = commands.add_parser("fund", help="fund the promotions account from the float")
    fund.add_argument("--kes", type=int, required=True)
    fund.add_argument("--reference", required=True)
    rule = commands.add_parser("cashback-rule", help="add a cashback rule")
    rule.add_argument("--name", required=True)
    scope = rule.add_mutually_exclusive_group(required=True)
    scope.add_argument("--biller")
    scope.add_argument("--category", choices=budget.CATEGORIES)
    rule.add_argument("--cap-kes", type=int, required=True, help="per user, per month")
    rule.add_argument("--tier", type=_tier, action="append", required=True)
    rule.add_argument("--from", dest="valid_from", type=date.fromisoformat, required=True)
    rule.add_argument("--until", dest="valid_until", type=date.fromisoformat)
    end = commands.add_parser("end-cashback-rule", help="end a rule (today, or a later day)")
    end.add_argument("--rule", type=int, required=True)
    end.add_argument("--last-day", type=date.fromisoformat)
    programme = commands.add_parser("referral-programme", help="open a referral programme")
    programme.add_argument("--bonus-kes", type=int, required=True)
    programme.add_argument("--budget-kes", type=int, required=True)
    programme.add_argument("--from", dest="valid_from", type=date.fromisoformat, required=True)
    programme.add_argument("--until", dest="valid_until", type=date.fromisoformat)
    commands.add_parser("balance", help="what the promotions account holds")
    return parser.parse_args(list(argv))


def _run(args: argparse.Namespace, database: Database) -> str:
    uow = UnitOfWork(database)
    if args.command == "fund":
        moved = budget.fund_promotions(
            uow, amount=args.kes * CENTS_PER_SHILLING, reference=args.reference
        )
        again = " (already funded: nothing moved)" if moved.replayed else ""
        return f"funded KES {format_kes(moved.amount)}, ref {moved.reference}{again}"
    if args.command == "cashback-rule":
        rule_id = budget.add_cashback_rule(
            uow,
            name=args.name,
            monthly_cap=args.cap_kes * CENTS_PER_SHILLING,
            tiers=tuple(args.tier),
            valid_from=args.valid_from,
            valid_until=args.valid_until,
            biller_code=args.biller,
            category=args.category,
        )
        return f"cashback rule {rule_id} added"
    if args.command == "end-cashback-rule":
        today = datetime.now(UTC).astimezone(NAIROBI).date()
        last_day = args.last_day or today
        changed = budget.end_cashback_rule(uow, args.rule, last_day=last_day, today=today)
        if not changed:
            return f"cashback rule {args.rule} already ends by {last_day}: nothing changed"
        return f"cashback rule {args.rule} ends after {last_day}"
    if args.command == "referral-programme":
        program_id = budget.open_referral_program(
            uow,
            bonus=args.bonus_kes * CENTS_PER_SHILLING,
            budget=args.budget_kes * CENTS_PER_SHILLING,
            valid_from=args.valid_from,
            valid_until=args.valid_until,
        )
        return f"referral programme {program_id} opened"
    return f"promotions hold KES {format_kes(budget.promotions_balance(uow))}"


def main(argv: Sequence[str] = ()) -> int:
    args = _arguments(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():  # only the messages: a bad setting's input may be a key
            print(f"{NAME}: invalid settings: {error['msg']}", file=sys.stderr)
        return 2
    if not settings.database_url:
        print(f"{NAME}: DATABASE_URL is not set", file=sys.stderr)
        return 2
    database = Database.from_settings(settings, max_connections=1)
    try:
        print(f"{NAME}: {_run(args, database)}")
        return 0
    except PayTraceError as exc:
        print(f"{NAME}: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        database.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
