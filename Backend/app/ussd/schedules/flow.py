"""My account > Scheduled payments: the caller's active and paused schedules, paged;
pick one to pause, resume or stop it, each confirmed with the PIN.

The list is fetched once per page and kept in the session as short display values
(a name cut to fit, no phone numbers); paging with 98 and picking touch Redis only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.domain import pin as pin_rules
from app.domain.money import NAIROBI, format_kes
from app.domain.records.schedules import ACTIVE, Schedule
from app.errors import PinLocked, ScheduleEnded, ScheduleNotFound, WrongPin
from app.ussd.engine import Context, End, Goto, Outcome, Reprompt
from app.ussd.harambee.lists import Page, Paged
from app.ussd.money_flow import display_name
from app.ussd.pin_steps import pin_refused
from app.ussd.statement_flow import short_name
from app.ussd.texts import text

PER_SCREEN = 4
CHANGES = ("pause", "resume", "stop")


def schedule_item(schedule: Schedule) -> dict[str, Any]:
    next_due = schedule.next_due_at
    return {
        "id": schedule.id,
        "name": schedule.payee_name,
        "amount": schedule.amount,
        "frequency": schedule.frequency,
        "day": schedule.day,
        "time": schedule.at_time.strftime("%H:%M"),
        "status": schedule.status,
        "next": when_text(next_due) if next_due else None,
    }


def when_text(moment: datetime | None) -> str:
    """'31/01/28 09:00', Nairobi time: how a screen names an occurrence."""
    return moment.astimezone(NAIROBI).strftime("%d/%m/%y %H:%M") if moment else ""


def rule_text(ctx: Context, frequency: str, day: int, at: str) -> str:
    """'Monthly, day 31, 09:00' or 'Every Fri, 17:00', in the caller's language."""
    if frequency == "weekly":
        weekday = text(ctx.lang, "sch.weekdays").split()[day - 1]
        return text(ctx.lang, "sch.weekly", weekday=weekday, time=at)
    return text(ctx.lang, "sch.monthly", day=day, time=at)


async def live_schedules(ctx: Context, *, limit: int, after_id: int | None = None) -> Page:
    found, more = await ctx.services.schedules(
        owner_user_id=ctx.user.user_id, limit=limit, before_id=after_id
    )
    return [schedule_item(s) for s in found], more


LIST = Paged("sch.list", "s_list", "s_more", live_schedules, PER_SCREEN)


NEW = "9"


async def schedules_start(ctx: Context, _: str) -> Outcome:
    await LIST.open(ctx)
    return Goto("sch.list")


def list_values(ctx: Context) -> dict[str, Any]:
    def line(n: int, item: dict[str, Any]) -> str:
        paused = "" if item["status"] == ACTIVE else " II"
        name = short_name(item["name"])
        return f"{n}. {name} {format_kes(item['amount'])} {_rule_short(item)}{paused}"

    lines = LIST.lines(ctx, line) or text(ctx.lang, "sch.none")
    return {"lines": f"{lines}\n{text(ctx.lang, 'sch.new')}"}


def _rule_short(item: dict[str, Any]) -> str:
    """'m31' monthly on the 31st, 'w5' weekly on Friday: a list line's few characters."""
    return f"{item['frequency'][0]}{item['day']}"


async def schedules_choose(ctx: Context, value: str) -> Outcome:
    if value == NEW:  # a page shows at most PER_SCREEN (< 9) schedules
        ctx.state.data.pop("s_new", None)
        return Goto("sch.new_phone")
    chosen = await LIST.pick(ctx, value)
    if isinstance(chosen, Goto):
        return chosen
    if chosen is None:
        return Reprompt("err.invalid_option")
    ctx.state.data["s_item"] = chosen
    return Goto("sch.item")


def item_values(ctx: Context) -> dict[str, Any]:
    item = ctx.state.data.get("s_item") or {
        "name": "",
        "amount": 0,
        "frequency": "monthly",
        "day": 1,
        "time": "00:00",
        "status": ACTIVE,
        "next": None,
    }
    rule = rule_text(ctx, item["frequency"], item["day"], item["time"])
    state = (
        text(ctx.lang, "sch.next", when=item["next"])
        if item["status"] == ACTIVE and item["next"]
        else text(ctx.lang, "sch.paused")
    )
    change = ctx.state.data.get("s_change")
    return {
        "name": display_name(item["name"]),
        "amount": format_kes(item["amount"]),
        "rule": rule,
        "state": state,
        "change": text(ctx.lang, f"sch.{change}") if change in CHANGES else "",
    }


def _choose(change: str):
    async def handler(ctx: Context, _: str) -> Outcome:
        if not ctx.state.data.get("s_item"):
            return Goto("account", reset=True)
        ctx.state.data["s_change"] = change
        return Goto("sch.pin")

    return handler


pause_chosen, resume_chosen, stop_chosen = (_choose(change) for change in CHANGES)


async def change_confirm(ctx: Context, value: str) -> Outcome:
    data = ctx.state.data
    item, change = data.get("s_item"), data.get("s_change")
    if not item or change not in CHANGES:
        return Goto("account", reset=True)
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    ctx.committing()
    try:
        changed = await ctx.services.change_schedule(
            owner_user_id=ctx.user.user_id,
            schedule_id=item["id"],
            change=change,
            pin=value,
            attempt_key=f"ussd:{ctx.hop_key}",
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    except (ScheduleEnded, ScheduleNotFound):
        return End("end.sch_ended")
    shown = schedule_item(changed)
    return End(
        f"end.sch_{changed.status}",
        {
            "name": display_name(shown["name"]),
            "amount": format_kes(shown["amount"]),
            "when": shown["next"] or "",
        },
    )
