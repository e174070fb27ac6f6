"""The promotions account and its rules, as operators set them: funding it from the
M-Pesa float, adding a cashback rule, opening a referral programme. Each is one
transaction; the rules are data, never code."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import pairwise

from app.db.unit_of_work import UnitOfWork
from app.domain.money import new_reference
from app.domain.promotions import PROMOTIONS, CashbackTier
from app.errors import BillerNotFound, NotFound, refused
from app.services.ledger import Movement, check_amount, earlier_result, request_hash, run_idempotent

MAX_FUNDING = 1_000_000_000  # KES 10,000,000 at once: above that is a typo
CATEGORIES = ("electricity", "water", "tv", "airtime")


def fund_promotions(uow: UnitOfWork, *, amount: int, reference: str) -> Movement:
    """Move `amount` cents from the M-Pesa float to the promotions account (PayTrace's own
    money paid in to fund cashback and referral bonuses); commits. The external
    reference is the idempotency key. Raises ValidationFailed ('invalid_amount',
    'invalid_reference'), IdempotencyConflict."""
    check_amount(amount, maximum=MAX_FUNDING)
    reference = reference.strip() if isinstance(reference, str) else ""
    if not 1 <= len(reference) <= 64 or not reference.isprintable():
        raise refused("invalid_reference", "a reference of 1 to 64 characters")
    key = f"promotions_funding:{reference}"
    fingerprint = request_hash(kind="promotions_funding", amount=amount)

    def attempt() -> Movement:
        with uow:
            locked = uow.ledger.accounts(codes=["mpesa_float", PROMOTIONS])
            earlier = earlier_result(uow, key, fingerprint)
            if earlier is not None:
                return earlier
            by_code = {a.code: a for a in locked}
            ref, now = new_reference(), datetime.now(UTC)
            tx_id = uow.ledger.post(
                reference=ref,
                kind="promotions_funding",
                amount=amount,
                fee=0,
                idempotency_key=key,
                request_hash=fingerprint,
                legs=[(by_code["mpesa_float"].id, -amount), (by_code[PROMOTIONS].id, amount)],
                channel="admin",
                created_at=now,
                note=reference,
            )
            uow.commit()
        return Movement(tx_id, ref, "promotions_funding", amount, 0, now, {})

    return run_idempotent(uow, key, fingerprint, attempt)


def promotions_balance(uow: UnitOfWork) -> int:
    """What the promotions account holds now (cents)."""
    with uow:
        [account] = uow.ledger.accounts(codes=[PROMOTIONS], for_update=False)
    return account.balance


def add_cashback_rule(
    uow: UnitOfWork,
    *,
    name: str,
    monthly_cap: int,
    tiers: tuple[CashbackTier, ...],
    valid_from: date,
    valid_until: date | None = None,
    biller_code: str | None = None,
    category: str | None = None,
) -> int:
    """A cashback rule for one biller or a category, with its amount tiers; commits and
    returns its id. Raises ValidationFailed ('invalid_rule'), BillerNotFound."""
    if not isinstance(name, str) or not 2 <= len(name.strip()) <= 60 or not name.isprintable():
        raise refused("invalid_rule", "a name of 2 to 60 printable characters")
    name = name.strip()
    if biller_code is not None and not biller_code.isprintable():  # a NUL reaches no query
        raise BillerNotFound("no such biller")
    if (biller_code is None) == (category is None) or (category and category not in CATEGORIES):
        raise refused("invalid_rule", "one biller or one category")
    ordered = sorted(tiers, key=lambda t: t.min_amount)
    if not ordered or any(a.max_amount >= b.min_amount for a, b in pairwise(ordered)):
        raise refused("invalid_rule", "tiers that do not overlap")
    if not all(0 < t.min_amount <= t.max_amount and 0 < t.rate_bp <= 10_000 for t in ordered):
        raise refused("invalid_rule", "each tier: 0 < min <= max, a rate of 1 to 10,000 bp")
    if monthly_cap <= 0 or (valid_until is not None and valid_until < valid_from):
        raise refused("invalid_rule", "a positive cap, and dates in order")
    with uow:
        biller_id = None
        if biller_code is not None:
            found = uow.billers.get(code=biller_code)
            if found is None:
                raise BillerNotFound("no such biller")
            biller_id = found.id
        rule_id = uow.promotions.add_rule(
            name=name,
            biller_id=biller_id,
            category=category,
            monthly_cap=monthly_cap,
            valid_from=valid_from,
            valid_until=valid_until,
            tiers=tuple(ordered),
        )
        uow.commit()
    return rule_id


def end_cashback_rule(uow: UnitOfWork, rule_id: int, *, last_day: date, today: date) -> bool:
    """End a rule: `last_day` becomes its last valid day (Nairobi, inclusive); commits.
    A rule is otherwise never changed (a new rule replaces it), and ending only shortens
    it: from today on, never into a day already past. Returns False when the rule
    already ended on or before `last_day` (nothing changed). Raises NotFound,
    ValidationFailed ('invalid_end')."""
    with uow:
        dates = uow.console_promotions.rule_dates(rule_id)
        if dates is None:
            raise NotFound("no such cashback rule")
        valid_from, valid_until = dates
        if valid_until is not None and valid_until <= last_day:
            return False
        if last_day < today or last_day < valid_from:
            raise refused("invalid_end", "the last day is today or later, and not before its first")
        uow.console_promotions.end_rule(rule_id, last_day)
        uow.commit()
    return True


def open_referral_program(
    uow: UnitOfWork, *, bonus: int, budget: int, valid_from: date, valid_until: date | None = None
) -> int:
    """A referral programme: `bonus` cents per new user's referrer while `budget` lasts;
    commits and returns its id. Raises ValidationFailed ('invalid_programme')."""
    if not 0 < bonus <= budget or (valid_until is not None and valid_until < valid_from):
        raise refused("invalid_programme", "0 < bonus <= budget, and dates in order")
    with uow:
        program_id = uow.promotions.add_program(
            bonus=bonus, budget=budget, valid_from=valid_from, valid_until=valid_until
        )
        uow.commit()
    return program_id
