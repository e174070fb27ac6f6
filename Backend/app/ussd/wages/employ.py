"""My account > I employ someone > 9 Add worker (docs/wages.md, docs/ussd.md).

phone -> name on the payslip -> gross pay each time (whole shillings) -> monthly /
weekly / daily -> the deductions: 1 All (NSSF, SHIF, Housing levy, PAYE) or 2 Choose
(items.py: switch each, 5 Done) -> "1. Add" naming what is deducted -> END. The caller
becomes an employer on the first worker. A phone not on PayTrace gets an invitation
SMS. The session keeps the phone, name, pay, frequency and items.
Adding moves no money: paying the worker needs the PIN (Pay worker).
"""

from __future__ import annotations

from typing import Any

from app.domain.gsm7 import is_gsm7
from app.domain.money import InvalidAmount, format_kes, parse_shillings
from app.domain.phone import InvalidPhone, mask, normalise
from app.domain.wages import ITEMS
from app.errors import ValidationFailed, WorkerExists
from app.services.wages.employers import MAX_GROSS, NAME_MAX
from app.ussd.engine import Context, End, Goto, Outcome, Reprompt
from app.ussd.money_flow import NAME_ON_SCREEN
from app.ussd.texts import text
from app.ussd.wages.items import items_text

FREQUENCIES = ("monthly", "weekly", "daily")
# Why adding failed, by the service's code: the reason the END shows.
NOT_ADDED = {"too_many_workers": "err.wg_too_many", "send_to_self": "err.wg_self"}


def payslip_name(value: str) -> str | None:
    """The name trimmed, if it passes REST's rule (employers.check_terms), else None."""
    name = value.strip()
    if not 1 <= len(name) <= NAME_MAX or not is_gsm7(name) or not name.isprintable():
        return None
    return name


async def add_start(ctx: Context, _: str = "") -> Outcome:
    ctx.state.data["wg_new"] = {}
    return Goto("wg.add_phone")


async def add_phone(ctx: Context, value: str) -> Outcome:
    try:
        phone = normalise(value)
    except InvalidPhone:
        return Reprompt("err.phone_invalid")
    if phone == ctx.state.phone:
        return Reprompt("err.wg_self")
    ctx.state.data["wg_new"] = {"phone": phone}
    return Goto("wg.add_name")


async def add_name(ctx: Context, value: str) -> Outcome:
    new = ctx.state.data.get("wg_new")
    if not new or "phone" not in new:
        return Goto("account", reset=True)
    name = payslip_name(value)
    if name is None:
        return Reprompt("err.wg_name")
    new["name"] = name
    return Goto("wg.add_gross")


def read_gross(value: str) -> int | Reprompt:
    """Gross pay typed in whole shillings, as cents, or the re-prompt saying what is
    wrong (adding a worker and changing their pay read it alike)."""
    try:
        gross = parse_shillings(value)
    except InvalidAmount as exc:
        return Reprompt(f"err.amount_{exc.reason}")
    return Reprompt("err.amount_too_large") if gross > MAX_GROSS else gross


async def add_gross(ctx: Context, value: str) -> Outcome:
    new = ctx.state.data.get("wg_new")
    if not new or "name" not in new:
        return Goto("account", reset=True)
    gross = read_gross(value)
    if isinstance(gross, Reprompt):
        return gross
    new["gross"] = gross
    return Goto("wg.add_every")


def choose_frequency(frequency: str, draft: str, then: str):
    """The handler of one "how often" choice: the draft in session data `draft` (which
    must have its gross pay by now) takes `frequency`, then the screen `then`."""

    async def handler(ctx: Context, _: str) -> Outcome:
        terms = ctx.state.data.get(draft)
        if not terms or "gross" not in terms:
            return Goto("account", reset=True)
        terms["frequency"] = frequency
        return Goto(then)

    return handler


every_month, every_week, every_day = (
    choose_frequency(f, "wg_new", "wg.add_ded") for f in FREQUENCIES
)


async def all_items(ctx: Context, _: str) -> Outcome:
    new = ctx.state.data.get("wg_new")
    if not new or "frequency" not in new:
        return Goto("account", reset=True)
    new["items"] = list(ITEMS)
    return Goto("wg.add_confirm")


async def choose_items(ctx: Context, _: str) -> Outcome:
    """The switches start from every item: the employer turns off what is not due."""
    new = ctx.state.data.get("wg_new")
    if not new or "frequency" not in new:
        return Goto("account", reset=True)
    new["items"] = list(ITEMS)
    return Goto("wg.add_items")


def new_name(ctx: Context) -> str:
    return (ctx.state.data.get("wg_new") or {}).get("name", "")[:NAME_ON_SCREEN]


async def add_confirm(ctx: Context, _: str) -> Outcome:
    new = ctx.state.data.get("wg_new")
    if not new or "items" not in new:
        return Goto("account", reset=True)
    ctx.committing()
    try:
        _, invitation = await ctx.services.employ_worker(
            employer_user_id=ctx.user.user_id,
            phone=new["phone"],
            display_name=new["name"],
            gross_pay=new["gross"],
            frequency=new["frequency"],
            deductions=new["items"],
        )
    except WorkerExists:
        return End("end.wg_not_added", {"reason": text(ctx.lang, "err.wg_exists")})
    except ValidationFailed as exc:
        reason = NOT_ADDED.get(exc.code, "err.wg_name")
        return End("end.wg_not_added", {"reason": text(ctx.lang, reason)})
    key = "end.wg_added_invited" if invitation == "invited" else "end.wg_added"
    return End(key, add_values(ctx))


def add_values(ctx: Context) -> dict[str, Any]:
    new = ctx.state.data.get("wg_new") or {}
    return {
        "name": new.get("name", "")[:NAME_ON_SCREEN],
        "masked_phone": mask(new.get("phone", "")),
        "gross": format_kes(new.get("gross", 0)),
        "every": text(ctx.lang, f"wg.every_{new.get('frequency', 'monthly')}"),
        "items": items_text(ctx.lang, new.get("items", ITEMS)),
    }
