"""Harambee over USSD, the organiser's side: start a harambee, and close (take the
money) or cancel (refund everyone) one of mine. Each commits behind the PIN with
the hop's idempotency key."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from app.domain import harambee as rules
from app.domain import pin as pin_rules
from app.domain.money import InvalidAmount, format_kes, parse_shillings
from app.errors import NotFound, PinLocked, ValidationFailed, WrongPin
from app.services.harambee.closing import Cancelled
from app.services.harambee.common import CampaignEnded, NotOrganiser
from app.ussd.engine import Context, End, Goto, Outcome, Reprompt
from app.ussd.harambee import lists
from app.ussd.harambee.flow import (
    END_CHOICES,
    PER_SCREEN,
    TITLE_ON_SCREEN,
    _day,
    _short,
)
from app.ussd.pin_steps import pin_refused
from app.ussd.texts import text

# ---- start a harambee --------------------------------------------------------------


MINE = lists.Paged("har.mine", "h_mine", "h_mine_more", lists.my_campaigns, PER_SCREEN)


async def title_entered(ctx: Context, value: str) -> Outcome:
    title = rules.clean_title(value)
    if title is None:
        return Reprompt("err.har_title")
    ctx.state.data["h_new"] = {"title": title}
    return Goto("har.new_target")


async def target_entered(ctx: Context, value: str) -> Outcome:
    new = ctx.state.data.get("h_new")
    if not new:
        return Goto("har.new_title", reset=True)
    try:
        new["target"] = parse_shillings(value)
    except InvalidAmount as exc:
        return Reprompt(f"err.amount_{exc.reason}")
    return Goto("har.new_end")


def ends(choice: str):
    async def handler(ctx: Context, _: str) -> Outcome:
        new = ctx.state.data.get("h_new")
        if not new or "target" not in new:
            return Goto("har.new_title", reset=True)
        days = END_CHOICES[choice]
        new["end"] = (lists.today() + timedelta(days=days)).isoformat() if days else None
        return Goto("har.new_pin")

    return handler


def new_values(ctx: Context) -> dict[str, Any]:
    new = ctx.state.data.get("h_new") or {}
    end = new.get("end")
    ends = text(ctx.lang, "har.ends_on", day=_day(end)) if end else text(ctx.lang, "har.open_ended")
    return {
        "title": new.get("title", ""),
        "target": format_kes(new.get("target", 0)),
        "ends": ends,
    }


async def start_confirm(ctx: Context, value: str) -> Outcome:
    new = ctx.state.data.get("h_new")
    if not new or "target" not in new or "end" not in new:
        return Goto("har.new_title", reset=True)
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    ctx.committing()
    try:
        started = await ctx.services.start_campaign_with_pin(
            user_id=ctx.user.user_id,
            title=new["title"],
            target=new["target"],
            end_date=date.fromisoformat(new["end"]) if new["end"] else None,
            pin=value,
            key=f"ussd:{ctx.hop_key}",
            channel="ussd",
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    except ValidationFailed as exc:
        if exc.code != "too_many_campaigns":
            raise
        return End("end.har_too_many")
    return End("end.har_started", {"title": started.campaign.title, "code": started.campaign.code})


# ---- my harambees: close or cancel ---------------------------------------------------------


async def mine_start(ctx: Context, _: str) -> Outcome:
    if not await MINE.open(ctx):
        return End("end.har_no_campaigns")
    return Goto("har.mine")


def mine_values(ctx: Context) -> dict[str, Any]:
    def line(i: int, c: dict[str, Any]) -> str:
        return f"{i}. {_short(c['title'])} {rules.percent_of(c['raised'], c['target'])}%"

    return {"lines": MINE.lines(ctx, line)}


async def mine_choose(ctx: Context, value: str) -> Outcome:
    chosen = await MINE.pick(ctx, value)
    if isinstance(chosen, Goto):
        return chosen
    if chosen is None:
        return Reprompt("err.invalid_option")
    ctx.state.data["h_campaign"] = chosen
    return Goto("har.manage")


def _end_campaign(closing: bool):
    async def handler(ctx: Context, value: str) -> Outcome:
        campaign = ctx.state.data.get("h_campaign")
        if not campaign:
            return Goto("harambee", reset=True)
        if not pin_rules.is_well_formed(value):
            return Reprompt("err.pin_format")
        end = (
            ctx.services.close_campaign_with_pin
            if closing
            else ctx.services.cancel_campaign_with_pin
        )
        ctx.committing()
        try:
            done = await end(
                user_id=ctx.user.user_id,
                campaign_id=campaign["id"],
                pin=value,
                key=f"ussd:{ctx.hop_key}",
                channel="ussd",
            )
        except (WrongPin, PinLocked) as exc:
            return pin_refused(ctx, exc)
        except (CampaignEnded, NotOrganiser, NotFound):
            return End("end.har_ended")
        title = _short(campaign["title"], TITLE_ON_SCREEN)
        if isinstance(done, Cancelled):
            refunded = sum(refund.amount for refund in done.refunds)
            values = {"title": title, "refunded": len(done.refunds), "amount": format_kes(refunded)}
            return End("end.har_cancelled", values)
        if done.payout is None:
            return End("end.har_closed_empty", {"title": title})
        payout = done.payout
        values = {
            "title": title,
            "amount": format_kes(payout.amount),
            "reference": payout.reference,
        }
        return End("end.har_closed", values)

    return handler


close_confirm = _end_campaign(closing=True)
cancel_confirm = _end_campaign(closing=False)
