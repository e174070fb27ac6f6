"""The console's promotions page and its admin forms, through the services the
`promotions` command line calls (app/services/promotions/budget.py): add a cashback
rule, end one, fund the promotions account from the float, open a referral programme.

A refused form answers the page again with the error and what was typed (never a 500);
its audit row says `refused` with the error's code. The funding form asks for the
reference of the money PayTrace paid into the float (its bank or M-Pesa reference), the
service's idempotency key exactly as on the command line: a form posted twice, or the
same money recorded once here and once from the command line, funds once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.console.trail import Admin, Console, ConsoleRoute, Viewer
from app.console.web import reason_of, redirect
from app.domain.money import CENTS_PER_SHILLING, NAIROBI
from app.domain.promotions import CashbackTier
from app.errors import Conflict, NotFound, PayTraceError, ValidationFailed, refused
from app.services import console_promotions
from app.services.admin_audit import REASON_MAX
from app.services.promotions import budget

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)

RuleId = Annotated[int, Path(ge=1, le=2**63 - 1)]
# What a form is answered again for: a bad field, a biller that does not exist, a
# reference used for another amount. Anything else is the console's refusal page.
FORM_REFUSALS = (ValidationFailed, Conflict, NotFound)
_KES = re.compile(r"[0-9]{1,9}")
_TIER = re.compile(r"([0-9]{1,9}):([0-9]{1,9}):([0-9]{1,5})")
MAX_TIERS = 10
DONE = {
    "rule_added": "Cashback rule added.",
    "rule_ended": "Cashback rule ended.",
    "rule_unchanged": "That rule already ends by then: nothing changed.",
    "funded": "The promotions account was funded from the float.",
    "programme_opened": "Referral programme opened.",
}


@dataclass(frozen=True)
class FormError:
    form: str  # rule | end | fund | programme
    code: str
    detail: str


def _kes(form: dict[str, str], name: str, code: str) -> int:
    """A whole-shillings field as cents. Raises ValidationFailed(code)."""
    raw = form.get(name, "").strip().replace(",", "")
    if _KES.fullmatch(raw) is None:
        raise refused(code, f"{name.replace('_', ' ')}: whole shillings")
    return int(raw) * CENTS_PER_SHILLING


def _day(form: dict[str, str], name: str, code: str, *, required: bool) -> date | None:
    raw = form.get(name, "").strip()
    if not raw and not required:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise refused(code, f"{name.replace('_', ' ')}: a date, YYYY-MM-DD") from None


def tiers_of(raw: str) -> tuple[CashbackTier, ...]:
    """Tiers as the command line takes them, MIN_KES:MAX_KES:BASIS_POINTS, one a line
    (or comma-separated); the service checks they make sense. Raises ValidationFailed."""
    parts = [p.strip() for p in raw.replace(",", "\n").splitlines() if p.strip()]
    if not parts or len(parts) > MAX_TIERS:
        raise refused("invalid_rule", f"1 to {MAX_TIERS} tiers, MIN_KES:MAX_KES:BASIS_POINTS")
    tiers = []
    for part in parts:
        found = _TIER.fullmatch(part)
        if found is None:
            raise refused("invalid_rule", "a tier is MIN_KES:MAX_KES:BASIS_POINTS")
        low, high, rate = (int(g) for g in found.groups())
        tiers.append(CashbackTier(low * CENTS_PER_SHILLING, high * CENTS_PER_SHILLING, rate))
    return tuple(tiers)


def _today() -> date:
    return datetime.now(UTC).astimezone(NAIROBI).date()


async def promotions_page(
    console: Console,
    *,
    done: str | None = None,
    error: FormError | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    if error is not None:
        console.audit.detail["error"] = error.code
    seen = await console.read(console_promotions.overview)
    return console.page(
        "promotions.html",
        status_code=status_code,
        p=seen,
        done=DONE.get(done or ""),
        error=error,
        values=values or {},
        csrf=console.session.csrf,
        may_admin=console.session.role == "admin",
        categories=budget.CATEGORIES,
        reason_max=REASON_MAX,
        days=console_promotions.SERIES_DAYS,
    )


def _typed(form: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in form.items() if k != "csrf"}


async def _refused(console: Console, name: str, exc: PayTraceError) -> Response:
    return await promotions_page(
        console,
        error=FormError(name, exc.code, exc.detail),
        values=_typed(console.form),
        status_code=exc.status_code,
    )


@router.get("/promotions", name="promotions")
async def promotions(
    console: Viewer, done: Annotated[str | None, Query(max_length=16, pattern=r"^[a-z_]+$")] = None
) -> Response:
    return await promotions_page(console, done=done)


@router.post("/promotions/rules", name="add_cashback_rule")
async def add_rule(console: Admin) -> Response:
    """The command line's `cashback-rule`: one biller or one category, its tiers, a
    monthly cap per user and its dates, checked by the same service."""
    form = console.form
    scope = form.get("scope", "biller")
    try:
        biller = form.get("biller", "").strip() if scope == "biller" else None
        category = form.get("category", "").strip() if scope == "category" else None
        if scope not in ("biller", "category"):
            raise refused("invalid_rule", "one biller or one category")
        # Checked before the audit row names it (a NUL cannot be stored).
        if not (biller or category or "").isprintable():
            raise refused("invalid_rule", "one biller or one category")
        console.audit.target("cashback_rule", (biller or category or "none")[:32])
        await console.run(
            budget.add_cashback_rule,
            name=form.get("name", "").strip(),
            monthly_cap=_kes(form, "cap_kes", "invalid_rule"),
            tiers=tiers_of(form.get("tiers", "")),
            valid_from=_day(form, "valid_from", "invalid_rule", required=True),
            valid_until=_day(form, "valid_until", "invalid_rule", required=False),
            biller_code=biller or None,
            category=category or None,
        )
    except FORM_REFUSALS as exc:
        return await _refused(console, "rule", exc)
    return redirect("/console/promotions?done=rule_added#rules")


@router.post("/promotions/rules/{rule_id}/end", name="end_cashback_rule")
async def end_rule(rule_id: RuleId, console: Admin) -> Response:
    """Set the rule's last valid day (today unless given); a rule is never edited."""
    console.audit.target("cashback_rule", str(rule_id))
    today = _today()
    try:
        last_day = _day(console.form, "last_day", "invalid_end", required=False) or today
        console.audit.detail["last_day"] = last_day.isoformat()
        changed = await console.run(
            budget.end_cashback_rule, rule_id, last_day=last_day, today=today
        )
    except FORM_REFUSALS as exc:
        return await _refused(console, "end", exc)
    if not changed:  # nothing committed: the row written after the answer says so
        console.audit.detail["changed"] = False
        return redirect("/console/promotions?done=rule_unchanged#rules")
    return redirect("/console/promotions?done=rule_ended#rules")


@router.post("/promotions/fund", name="fund_promotions")
async def fund(console: Admin) -> Response:
    """The command line's `fund`, keyed by the same reference (the money's own, paid into
    the float): the same money recorded twice, here or there, moves once. PayTrace's own
    money, so a reason is required."""
    form = console.form
    try:
        reference = form.get("reference", "").strip()
        # Checked before the audit row names it (a NUL cannot be stored); the service
        # checks its length again.
        if not reference or not reference.isprintable():
            raise refused("invalid_reference", "the reference of the money paid into the float")
        console.audit.target("promotions_funding", reference)
        console.audit.reason = reason_of(form)
        amount = _kes(form, "amount_kes", "invalid_amount")
        console.audit.detail["amount"] = amount
        moved = await console.run(budget.fund_promotions, amount=amount, reference=reference)
    except FORM_REFUSALS as exc:
        return await _refused(console, "fund", exc)
    if moved.replayed:  # the same form again: nothing committed, the row after says so
        console.audit.detail["replayed"] = True
    return redirect("/console/promotions?done=funded")


@router.post("/promotions/referral-programme", name="open_referral_programme")
async def open_programme(console: Admin) -> Response:
    """The command line's `referral-programme`: a bonus per referral while its budget
    lasts; the newest valid programme applies."""
    form = console.form
    console.audit.target("referral_programme", "new")
    try:
        bonus = _kes(form, "bonus_kes", "invalid_programme")
        budget_cents = _kes(form, "budget_kes", "invalid_programme")
        console.audit.detail.update(bonus=bonus, budget=budget_cents)
        await console.run(
            budget.open_referral_program,
            bonus=bonus,
            budget=budget_cents,
            valid_from=_day(form, "valid_from", "invalid_programme", required=True),
            valid_until=_day(form, "valid_until", "invalid_programme", required=False),
        )
    except FORM_REFUSALS as exc:
        return await _refused(console, "programme", exc)
    return redirect("/console/promotions?done=programme_opened#referrals")
