"""My account > I employ someone > a worker > 2 Pay on a schedule, 3 Change pay
(docs/wages.md, docs/ussd.md).

2 Pay monthly (weekly) on a day: the day (1-31, 31 the month's last; or 1-7, Monday 1)
-> PIN -> END with the first date. The wage schedule is made by the service REST uses
(schedules/wages.schedule_pay: the worker's frequency, 09:00 Nairobi as every schedule
made on USSD, from today, until stopped); it then lists under Scheduled payments,
where it is paused, resumed or stopped like any other. Its key is the confirming
hop's, so a gateway retry cannot make two.
3 Change pay: the new gross pay (whole shillings) -> monthly / weekly / daily -> PIN
-> END, through employers.edit_worker (REST's PATCH): the next pay uses it. A worker on
a live schedule keeps their frequency (the END says to stop the schedule first).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.domain import pin as pin_rules
from app.domain.money import format_kes, nairobi_day
from app.errors import NotAnEmployer, PinLocked, ValidationFailed, WorkerNotFound, WrongPin
from app.services.schedules.wages import NewWageSchedule
from app.ussd.engine import Context, End, Goto, Outcome, Reprompt
from app.ussd.pin_steps import pin_refused
from app.ussd.schedules.flow import rule_text, when_text
from app.ussd.schedules.new import DAYS, USSD_TIME
from app.ussd.texts import text
from app.ussd.wages.employ import FREQUENCIES, choose_frequency, read_gross

# Why a schedule was not made, by the service's code: the reason the END shows.
NOT_SCHEDULED = {"too_many_schedules": "err.sch_too_many", "daily_not_scheduled": "err.wg_daily"}


def _pick(ctx: Context) -> dict[str, Any]:
    return ctx.state.data.get("wg_pick") or {"id": 0, "name": "", "gross": 0, "frequency": ""}


# ---- 2 Pay on a schedule -------------------------------------------------------------


async def sched_day(ctx: Context, value: str) -> Outcome:
    pick, new = ctx.state.data.get("wg_pick"), ctx.state.data.get("wg_sched")
    if not pick or new is None or pick["frequency"] not in DAYS:
        return Goto("account", reset=True)
    if not (value.isascii() and value.isdigit() and int(value) in DAYS[pick["frequency"]]):
        return Reprompt(f"err.sch_day_{pick['frequency']}")
    new["day"] = int(value)
    return Goto("wg.sched_pin")


async def sched_confirm(ctx: Context, value: str) -> Outcome:
    pick, new = ctx.state.data.get("wg_pick"), ctx.state.data.get("wg_sched")
    if not pick or not new or "day" not in new:
        return Goto("account", reset=True)
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    ctx.committing()
    try:
        made = await ctx.services.schedule_wage(
            NewWageSchedule(
                employer_user_id=ctx.user.user_id,
                worker_id=pick["id"],
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
    except (WorkerNotFound, NotAnEmployer):  # removed meanwhile
        return End("end.wg_cannot_pay", {"name": pick["name"]})
    except ValidationFailed as exc:
        reason = NOT_SCHEDULED.get(exc.code)
        if reason is None:  # no rule in force, pay too low: not payable now
            return End("end.wg_cannot_pay", {"name": pick["name"]})
        return End("end.wg_not_scheduled", {"reason": text(ctx.lang, reason)})
    return End(
        "end.wg_scheduled", {**sched_values(ctx), "when": when_text(made.schedule.next_due_at)}
    )


def sched_values(ctx: Context) -> dict[str, Any]:
    pick, new = _pick(ctx), ctx.state.data.get("wg_sched") or {}
    frequency = pick["frequency"] if pick["frequency"] in DAYS else "monthly"
    return {
        "name": pick["name"],
        "gross": format_kes(pick["gross"]),
        "question": text(ctx.lang, f"sch.day_{frequency}"),
        "rule": rule_text(ctx, frequency, new.get("day", 1), USSD_TIME.strftime("%H:%M")),
    }


# ---- 3 Change pay --------------------------------------------------------------------


async def edit_gross(ctx: Context, value: str) -> Outcome:
    edit = ctx.state.data.get("wg_edit")
    if edit is None or not ctx.state.data.get("wg_pick"):
        return Goto("account", reset=True)
    gross = read_gross(value)
    if isinstance(gross, Reprompt):
        return gross
    edit["gross"] = gross
    return Goto("wg.edit_every")


edit_month, edit_week, edit_day = (
    choose_frequency(f, "wg_edit", "wg.edit_pin") for f in FREQUENCIES
)


async def edit_confirm(ctx: Context, value: str) -> Outcome:
    pick, edit = ctx.state.data.get("wg_pick"), ctx.state.data.get("wg_edit")
    if not pick or not edit or "frequency" not in edit:
        return Goto("account", reset=True)
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    ctx.committing()
    try:
        await ctx.services.edit_worker(
            employer_user_id=ctx.user.user_id,
            worker_id=pick["id"],
            gross_pay=edit["gross"],
            frequency=edit["frequency"],
            pin=value,
            attempt_key=f"ussd:{ctx.hop_key}",
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    except (WorkerNotFound, NotAnEmployer):  # removed meanwhile
        return End("end.wg_cannot_pay", {"name": pick["name"]})
    except ValidationFailed as exc:
        if exc.code != "frequency_scheduled":  # terms the screens never let through
            return End("end.wg_cannot_pay", {"name": pick["name"]})
        return End("end.wg_not_changed", {"reason": text(ctx.lang, "err.wg_scheduled")})
    return End("end.wg_changed", edit_values(ctx))


def edit_values(ctx: Context) -> dict[str, Any]:
    pick, edit = _pick(ctx), ctx.state.data.get("wg_edit") or {}
    return {
        "name": pick["name"],
        "now": format_kes(pick["gross"]),
        "gross": format_kes(edit.get("gross", 0)),
        "every": text(ctx.lang, f"wg.every_{edit.get('frequency', 'monthly')}"),
    }
