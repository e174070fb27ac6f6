"""My account > I employ someone (Pay worker) and My pay (docs/wages.md).

I employ someone: the employer's workers (the first MAX_SHOWN; more are paid over REST)
and 9 Add worker (employ.py; straight there with no worker yet) -> pick one -> the
worker's terms and 1 Pay now, 2 Pay monthly (weekly) on a day, 3 Change pay (the
last two in terms.py), 4 Change name or deductions (details.py). Pay now: this
month's payslip (today's pay date, the rules in force) with net pay, the deductions
and the cost to the employer -> PIN -> END. The pay run is drafted on 1 (once per hop,
by its key) and approved on the PIN; the worker pays the line and the payslip SMS goes
to the worker.
My pay: the caller's next pay date (a wage schedule's) and last payslips as a worker,
newest first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.domain import pin as pin_rules
from app.domain.money import NAIROBI, format_kes, nairobi_day
from app.domain.wages import ITEMS, whole_shillings
from app.errors import (
    InsufficientFunds,
    LimitExceeded,
    NotAnEmployer,
    PayRunNotFound,
    PinLocked,
    ValidationFailed,
    WrongPin,
)
from app.services.schedules.wages import SCHEDULED_FREQUENCIES
from app.ussd.engine import Context, End, Goto, Outcome, Reprompt
from app.ussd.pin_steps import pin_refused
from app.ussd.texts import text
from app.ussd.wages import employ

MAX_SHOWN = 5  # five of the longest names fit one screen, with a reason above
PAYSLIPS_SHOWN = 3
# The payslip's names of the items, as the SMS (app/services/wages/line_payments.py).
SLIP_NAMES = {"nssf": "NSSF", "shif": "SHIF", "ahl": "AHL", "paye": "PAYE"}
NAME_SHOWN = 12
ADD = "9"  # the list's 9. Add worker (at most MAX_SHOWN workers above it)


def shillings(cents: int) -> str:
    """Whole shillings, half up, as a payslip shows them: '16,114'."""
    return format_kes(whole_shillings(cents) * 100)


async def pay_worker_start(ctx: Context, _: str) -> Outcome:
    try:
        workers = await ctx.services.wage_workers(employer_user_id=ctx.user.user_id)
    except NotAnEmployer:
        workers = []
    if not workers:
        return await employ.add_start(ctx)
    ctx.state.data["wg_list"] = [
        {
            "id": w.id,
            "name": w.display_name[:NAME_SHOWN],
            "gross": w.gross_pay,
            "frequency": w.frequency,
            "items": list(w.deductions),
        }
        for w in workers[:MAX_SHOWN]
    ]
    ctx.state.data.pop("wg_run", None)
    return Goto("wg.workers")


def workers_values(ctx: Context) -> dict[str, Any]:
    items = ctx.state.data.get("wg_list") or []
    lines = [f"{n}. {w['name']}" for n, w in enumerate(items, 1)]
    return {"lines": "\n".join(lines)}


async def worker_chosen(ctx: Context, value: str) -> Outcome:
    items = ctx.state.data.get("wg_list") or []
    if value == ADD:
        return await employ.add_start(ctx)
    if not value.isdigit() or not 1 <= int(value) <= len(items):
        return Reprompt("err.invalid_option")
    ctx.state.data["wg_pick"] = dict(items[int(value) - 1])
    return Goto("wg.worker")


def worker_values(ctx: Context) -> dict[str, Any]:
    pick = ctx.state.data.get("wg_pick") or {"name": "", "gross": 0, "frequency": "daily"}
    frequency = pick["frequency"]
    scheduled = frequency in SCHEDULED_FREQUENCIES
    return {
        "name": pick["name"],
        "gross": format_kes(pick["gross"]),
        "every": text(ctx.lang, f"wg.every_{frequency}"),
        "schedule": text(ctx.lang, f"wg.opt_{frequency}") + "\n" if scheduled else "",
    }


async def worker_action(ctx: Context, value: str) -> Outcome:
    """1 Pay now, 2 Pay on a schedule (a worker paid weekly or monthly), 3 Change pay,
    4 Change name or deductions (details.py)."""
    pick = ctx.state.data.get("wg_pick")
    if not pick:
        return Goto("account", reset=True)
    if value == "1":
        return await _pay_now(ctx, pick)
    if value == "2" and pick["frequency"] in SCHEDULED_FREQUENCIES:
        ctx.state.data["wg_sched"] = {}
        return Goto("wg.sched_day")
    if value == "3":
        ctx.state.data["wg_edit"] = {}
        return Goto("wg.edit_gross")
    if value == "4":
        return Goto("wg.det")
    return Reprompt("err.invalid_option")


async def _pay_now(ctx: Context, item: dict[str, Any]) -> Outcome:
    try:
        draft = await ctx.services.draft_pay(
            employer_user_id=ctx.user.user_id,
            worker_id=item["id"],
            pay_date=nairobi_day(datetime.now(UTC)),
            key=f"ussd:{ctx.hop_key}",
        )
    except (ValidationFailed, NotAnEmployer):  # removed meanwhile, or pay too low
        return End("end.wg_cannot_pay", {"name": item["name"]})
    (line,) = draft.lines
    ctx.state.data["wg_run"] = {
        "id": draft.run.id,
        "name": item["name"],
        "net": line.net,
        "cost": draft.run.total_cost,
        "deductions": {
            item: sum(x.employee for x in line.deductions if x.item == item) for item in ITEMS
        },
    }
    return Goto("wg.confirm")


def confirm_values(ctx: Context) -> dict[str, Any]:
    run = ctx.state.data.get("wg_run") or {
        "name": "", "net": 0, "cost": 0, "deductions": {},
    }  # fmt: skip
    shown = [f"{SLIP_NAMES[i]} {shillings(c)}" for i, c in run["deductions"].items() if c]
    return {
        "name": run["name"],
        "deductions": " ".join(shown) or "-",
        "net": shillings(run["net"]),
        "cost": shillings(run["cost"]),
    }


async def pay_confirm(ctx: Context, value: str) -> Outcome:
    run = ctx.state.data.get("wg_run")
    if not run:
        return Goto("account", reset=True)
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    ctx.committing()
    try:
        await ctx.services.approve_pay(
            employer_user_id=ctx.user.user_id,
            run_id=run["id"],
            pin=value,
            attempt_key=f"ussd:{ctx.hop_key}",
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    except LimitExceeded as exc:
        reason = text(ctx.lang, f"err.limit_{exc.limit}", allowed=format_kes(exc.allowed))
        return End("end.not_paid", {"reason": reason})
    except InsufficientFunds as exc:
        reason = text(
            ctx.lang,
            "err.insufficient",
            balance=format_kes(exc.balance),
            needed=format_kes(exc.needed),
        )
        return End("end.not_paid", {"reason": reason})
    except PayRunNotFound:
        return End("end.wg_cannot_pay", {"name": run["name"]})
    return End("end.wg_paid", {"name": run["name"], "net": shillings(run["net"])})


async def my_pay_open(ctx: Context, _: str) -> Outcome:
    found = await ctx.services.my_pay(user_id=ctx.user.user_id)
    upcoming = await ctx.services.next_pay(user_id=ctx.user.user_id)
    shown = ""
    if upcoming:
        employer, when = upcoming[0]
        day = when.astimezone(NAIROBI).strftime("%d/%m/%y")
        shown = text(ctx.lang, "wg.next_pay", date=day, name=employer[:NAME_SHOWN]) + "\n"
    if not found:
        return End("end.wg_no_pay", {"next": shown})
    lines = [
        f"{day.strftime('%d/%m/%y')} Net {shillings(line.net)} {line.reference or ''}".rstrip()
        for line, day in found[:PAYSLIPS_SHOWN]
    ]
    return End("end.wg_my_pay", {"next": shown, "lines": "\n".join(lines)})
