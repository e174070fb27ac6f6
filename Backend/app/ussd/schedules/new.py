"""My account > Scheduled payments > 9 New: a Send money that repeats itself, over USSD.

recipient's phone -> amount -> every month / every week -> the day -> PIN -> END with the
first date. It runs at 09:00 Nairobi time (REST chooses any time), from today, until the
owner stops it (at most five years). The session keeps the recipient's name and number,
the amount, the frequency and the day, never the PIN; the schedule's idempotency key is
the confirming hop's, so a gateway retry cannot make two.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from app.domain import pin as pin_rules
from app.domain.money import InvalidAmount, format_kes, nairobi_day, parse_shillings
from app.domain.phone import InvalidPhone, mask, normalise
from app.errors import PinLocked, RecipientNotRegistered, ValidationFailed, WrongPin
from app.services.schedules.manage import NewSchedule
from app.ussd.engine import Context, End, Goto, Outcome, Reprompt
from app.ussd.money_flow import display_name
from app.ussd.pin_steps import pin_refused
from app.ussd.schedules.flow import rule_text, when_text
from app.ussd.texts import text

# What a schedule made on USSD runs at: one less question on a keypad.
USSD_TIME = time(9, 0)
DAYS = {"monthly": range(1, 32), "weekly": range(1, 8)}


async def new_phone(ctx: Context, value: str) -> Outcome:
    try:
        phone = normalise(value)
    except InvalidPhone:
        return Reprompt("err.phone_invalid")
    if phone == ctx.state.phone:
        return Reprompt("err.send_to_self")
    try:
        payee = await ctx.services.find_recipient(sender_user_id=ctx.user.user_id, phone=phone)
    except RecipientNotRegistered:
        return Reprompt("err.sch_not_registered")
    except ValidationFailed as exc:
        if exc.code != "send_to_self":
            raise
        return Reprompt("err.send_to_self")
    ctx.state.data["s_new"] = {"name": payee.full_name, "phone": payee.phone}
    return Goto("sch.new_amount")


async def new_amount(ctx: Context, value: str) -> Outcome:
    new = ctx.state.data.get("s_new")
    if not new:
        return Goto("account", reset=True)
    try:
        new["amount"] = parse_shillings(value)
    except InvalidAmount as exc:
        return Reprompt(f"err.amount_{exc.reason}")
    return Goto("sch.new_when")


def _every(frequency: str):
    async def handler(ctx: Context, _: str) -> Outcome:
        new = ctx.state.data.get("s_new")
        if not new or "amount" not in new:
            return Goto("account", reset=True)
        new["frequency"] = frequency
        return Goto("sch.new_day")

    return handler


every_month, every_week = _every("monthly"), _every("weekly")


async def new_day(ctx: Context, value: str) -> Outcome:
    new = ctx.state.data.get("s_new")
    if not new or "frequency" not in new:
        return Goto("account", reset=True)
    days = DAYS[new["frequency"]]
    if not (value.isascii() and value.isdigit() and int(value) in days):
        return Reprompt(f"err.sch_day_{new['frequency']}")
    new["day"] = int(value)
    return Goto("sch.new_pin")


async def new_confirm(ctx: Context, value: str) -> Outcome:
    new = ctx.state.data.get("s_new")
    if not new or "day" not in new:
        return Goto("account", reset=True)
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    ctx.committing()
    try:
        made = await ctx.services.schedule_transfer(
            NewSchedule(
                owner_user_id=ctx.user.user_id,
                kind="transfer",
                payee=new["phone"],
                amount=new["amount"],
                frequency=new["frequency"],
                day=new["day"],
                at_time=USSD_TIME,
                start_date=nairobi_day(datetime.now(UTC)),
                idempotency_key=f"ussd:{ctx.hop_key}",
                channel="ussd",
            ),
            pin=value,
            attempt_key=f"ussd:{ctx.hop_key}",
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    except RecipientNotRegistered:
        return End("end.sch_not_made", {"reason": text(ctx.lang, "err.recipient_gone")})
    except ValidationFailed as exc:
        reason = "err.sch_too_many" if exc.code == "too_many_schedules" else "err.amount_too_large"
        return End("end.sch_not_made", {"reason": text(ctx.lang, reason)})
    schedule = made.schedule
    return End(
        "end.sch_made",
        {
            **new_values(ctx),
            "when": when_text(schedule.next_due_at),
        },
    )


def new_values(ctx: Context) -> dict[str, Any]:
    new = ctx.state.data.get("s_new") or {"name": "", "phone": ""}
    frequency = new.get("frequency", "monthly")
    return {
        "name": display_name(new["name"]),
        "masked_phone": mask(new["phone"]),
        "amount": format_kes(new.get("amount", 0)),
        "rule": rule_text(ctx, frequency, new.get("day", 1), USSD_TIME.strftime("%H:%M")),
        "question": text(ctx.lang, f"sch.day_{frequency}"),
    }
