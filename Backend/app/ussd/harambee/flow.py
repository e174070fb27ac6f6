"""Harambee over USSD: contribute (pay now or pledge), my pledges, start, my harambees.

Lists come three to a screen from the service port and are kept in the session
as the few values the screen shows; 98 on a list asks for the next three. Every
step that moves money or commits something ends behind the PIN, with an
idempotency key derived from the hop (`ussd:<hop key>`), so a gateway retry never
contributes, pledges, starts, closes or cancels twice.

Long (over 300 lines) because it is the contributor's side of the Harambee menu,
screen by screen (the organiser's side is organise.py, the lists lists.py).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from app.domain import harambee as rules
from app.domain import pin as pin_rules
from app.domain.money import InvalidAmount, format_kes, parse_shillings
from app.errors import (
    InsufficientFunds,
    LimitExceeded,
    NotFound,
    PinLocked,
    ValidationFailed,
    WrongPin,
)
from app.services.harambee.common import CampaignNotOpen, PledgeNotOpen
from app.services.harambee.contributions import ContributionRequest
from app.ussd.engine import Context, End, Goto, Outcome, Reprompt
from app.ussd.harambee import lists
from app.ussd.money_flow import display_name
from app.ussd.pin_steps import pin_lock_gate, pin_refused
from app.ussd.texts import text

PER_SCREEN = 3
# A pledge's line carries two amounts' worth: two a screen, so a reason still fits above.
PLEDGES_PER_SCREEN = 2
TITLE_ON_LIST = 14  # a list line: "1. <title> 482913", three of them and the footer fit
TITLE_ON_SCREEN = 40
# End dates a new campaign can have, in days from today (None: no end date).
END_CHOICES = {"1": 7, "2": 30, "3": 90, "4": None}


def _short(title: str, limit: int = TITLE_ON_LIST) -> str:
    return display_name(title, limit)


def _day(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%d/%m/%y")


OPEN = lists.Paged("har.list", "h_list", "h_more", lists.open_campaigns, PER_SCREEN)
PLEDGES = lists.Paged(
    "har.pledges", "h_pledges", "h_pledges_more", lists.open_pledges, PLEDGES_PER_SCREEN
)


async def _locked(ctx: Context) -> End | None:
    """Money-out is locked: say so before asking anything (as Send money does)."""
    return await pin_lock_gate(ctx)


def _not_paid(ctx: Context, error: Exception) -> End:
    if isinstance(error, LimitExceeded):
        reason = text(ctx.lang, f"err.limit_{error.limit}", allowed=format_kes(error.allowed))
    elif isinstance(error, InsufficientFunds):
        values = {"balance": format_kes(error.balance), "needed": format_kes(error.needed)}
        reason = text(ctx.lang, "err.insufficient", **values)
    else:
        reason = text(ctx.lang, "err.har_not_open")
    return End("end.har_not_paid", {"reason": reason})


# ---- contribute: choose a campaign ----------------------------------------------------


async def contribute_start(ctx: Context, _: str) -> Outcome:
    await OPEN.open(ctx)
    return Goto("har.list")


def list_values(ctx: Context) -> dict[str, Any]:
    lines = OPEN.lines(ctx, lambda i, c: f"{i}. {_short(c['title'])} {c['code']}")
    return {"lines": lines or text(ctx.lang, "har.none_open")}


async def list_choose(ctx: Context, value: str) -> Outcome:
    data = ctx.state.data
    chosen = await OPEN.pick(ctx, value)
    if isinstance(chosen, Goto):
        return chosen
    if chosen is None:
        if not rules.is_campaign_code(value):
            return Reprompt("err.har_choose")
        try:
            row = await ctx.services.campaign_by_code(code=value)
            chosen = lists.campaign_item(row, lists.today())
        except (NotFound, ValidationFailed):
            return Reprompt("err.har_no_code")
    if not chosen["takes_money"]:
        return Reprompt("err.har_not_open")
    data["h_campaign"] = chosen
    return Goto("har.amount")


def campaign_values(ctx: Context) -> dict[str, Any]:
    campaign = ctx.state.data.get("h_campaign") or {"title": "", "code": "", "raised": 0}
    return {
        "title": _short(campaign["title"], TITLE_ON_SCREEN),
        "code": campaign["code"],
        "raised": format_kes(campaign.get("raised", 0)),
        "target": format_kes(campaign.get("target", 0)),
        "amount": format_kes(ctx.state.data.get("h_amount", 0)),
        "anon": text(ctx.lang, "har.anon") if ctx.state.data.get("h_anon") else "",
        "due": _day(ctx.state.data["h_due"]) if ctx.state.data.get("h_due") else "",
    }


async def amount_entered(ctx: Context, value: str) -> Outcome:
    if not ctx.state.data.get("h_campaign"):
        return Goto("harambee", reset=True)
    try:
        ctx.state.data["h_amount"] = parse_shillings(value)
    except InvalidAmount as exc:
        return Reprompt(f"err.amount_{exc.reason}")
    return Goto("har.how")


def pay(anonymous: bool):
    async def handler(ctx: Context, _: str) -> Outcome:
        ctx.state.data["h_anon"] = anonymous
        return Goto("har.pay_pin")

    return handler


async def pay_confirm(ctx: Context, value: str) -> Outcome:
    data = ctx.state.data
    if not data.get("h_campaign") or not data.get("h_amount"):
        return Goto("harambee", reset=True)
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    campaign = data["h_campaign"]
    ctx.committing()
    try:
        paid = await ctx.services.contribute(
            ContributionRequest(
                user_id=ctx.user.user_id,
                campaign_id=campaign["id"],
                amount=data["h_amount"],
                idempotency_key=f"ussd:{ctx.hop_key}",
                channel="ussd",
                is_anonymous=bool(data.get("h_anon")),
            ),
            pin=value,
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    except (CampaignNotOpen, LimitExceeded, InsufficientFunds) as exc:
        return _not_paid(ctx, exc)
    return End(
        "end.har_paid",
        {
            "title": _short(campaign["title"], TITLE_ON_SCREEN),
            "amount": format_kes(paid.amount),
            "reference": paid.reference,
            "raised": format_kes(paid.raised),
            # The target the amount screen showed: a patched one shows on the next dial.
            "target": format_kes(campaign["target"]),
            "balance": format_kes(paid.balance),
        },
    )


# ---- contribute: pledge ---------------------------------------------------------------


def due(days: int):
    async def handler(ctx: Context, _: str) -> Outcome:
        campaign = ctx.state.data.get("h_campaign")
        if not campaign:
            return Goto("harambee", reset=True)
        due = lists.today() + timedelta(days=days)
        end = campaign.get("end_date")
        if end and due > date.fromisoformat(end):
            return Reprompt("err.har_due_late", {"day": _day(end)})
        ctx.state.data["h_due"] = due.isoformat()
        return Goto("har.pledge_pin")

    return handler


async def pledge_confirm(ctx: Context, value: str) -> Outcome:
    data = ctx.state.data
    if not data.get("h_campaign") or not data.get("h_amount") or not data.get("h_due"):
        return Goto("harambee", reset=True)
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    campaign = data["h_campaign"]
    ctx.committing()
    try:
        pledged = await ctx.services.pledge_with_pin(
            user_id=ctx.user.user_id,
            campaign_id=campaign["id"],
            amount=data["h_amount"],
            due_date=date.fromisoformat(data["h_due"]),
            anonymous=False,
            pin=value,
            key=f"ussd:{ctx.hop_key}",
            channel="ussd",
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    except (CampaignNotOpen, ValidationFailed) as exc:
        return _not_paid(ctx, exc)
    return End(
        "end.har_pledged",
        {
            "title": _short(campaign["title"], TITLE_ON_SCREEN),
            "amount": format_kes(pledged.pledge.amount),
            "due": _day(pledged.pledge.due_date.isoformat()),
        },
    )


# ---- my pledges ------------------------------------------------------------------------


async def pledges_start(ctx: Context, _: str) -> Outcome:
    if locked := await _locked(ctx):
        return locked
    if not await PLEDGES.open(ctx):
        return End("end.har_no_pledges")
    return Goto("har.pledges")


def _left(pledge: dict[str, Any]) -> int:
    return max(0, pledge["amount"] - pledge["paid"])


def pledges_values(ctx: Context) -> dict[str, Any]:
    def line(i: int, p: dict[str, Any]) -> str:
        left, due = format_kes(_left(p)), _day(p["due_date"])[:5]
        return f"{i}. {_short(p['campaign_title'])} KES {left} {due}"

    return {"lines": PLEDGES.lines(ctx, line)}


async def pledges_choose(ctx: Context, value: str) -> Outcome:
    chosen = await PLEDGES.pick(ctx, value)
    if isinstance(chosen, Goto):
        return chosen
    if chosen is None:
        return Reprompt("err.invalid_option")
    ctx.state.data["h_pledge"] = chosen
    return Goto("har.pledge")


def pledge_values(ctx: Context) -> dict[str, Any]:
    pledge = ctx.state.data.get("h_pledge") or {
        "campaign_title": "",
        "amount": 0,
        "paid": 0,
        "due_date": "2000-01-01",
    }
    amount = ctx.state.data.get("h_pay")
    return {
        "title": _short(pledge["campaign_title"], TITLE_ON_SCREEN),
        "left": format_kes(_left(pledge)),
        "amount": format_kes(_left(pledge) if amount is None else amount),
        "due": _day(pledge["due_date"]),
    }


async def pay_all(ctx: Context, _: str) -> Outcome:
    ctx.state.data["h_pay"] = None  # all that remains, read under the lock
    return Goto("har.pledge_pay_pin")


async def part_entered(ctx: Context, value: str) -> Outcome:
    pledge = ctx.state.data.get("h_pledge")
    if not pledge:
        return Goto("harambee", reset=True)
    try:
        amount = parse_shillings(value)
    except InvalidAmount as exc:
        return Reprompt(f"err.amount_{exc.reason}")
    if amount > _left(pledge):
        return Reprompt("err.har_over_pledge", {"left": format_kes(_left(pledge))})
    ctx.state.data["h_pay"] = amount
    return Goto("har.pledge_pay_pin")


async def pledge_pay_confirm(ctx: Context, value: str) -> Outcome:
    data = ctx.state.data
    pledge = data.get("h_pledge")
    if not pledge:
        return Goto("harambee", reset=True)
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    ctx.committing()
    try:
        paid, after = await ctx.services.pay_pledge(
            user_id=ctx.user.user_id,
            pledge_id=pledge["id"],
            amount=data.get("h_pay"),
            key=f"ussd:{ctx.hop_key}",
            channel="ussd",
            pin=value,
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    except (CampaignNotOpen, PledgeNotOpen, ValidationFailed, LimitExceeded) as exc:
        return _not_paid(ctx, exc)
    except InsufficientFunds as exc:
        return _not_paid(ctx, exc)
    return End(
        "end.har_pledge_paid",
        {
            "title": _short(pledge["campaign_title"], TITLE_ON_SCREEN),
            "amount": format_kes(paid.amount),
            "reference": paid.reference,
            "left": format_kes(after.remaining),
            "balance": format_kes(paid.balance),
        },
    )
