"""'9. Repeat monthly' on a money journey's confirmation (Send money, Buy airtime, Pay a
bill): 9 instead of the PIN shows the same payment "now and every month on the 4th";
the PIN there pays now exactly as the confirmation does, then makes the monthly
schedule (docs/schedules.md) of the same payment, from tomorrow, on today's day of the
month in Nairobi (the 29th-31st: a shorter month's last day), at 09:00 as *9 New*.

A refused payment (PIN, limits, balance) makes no schedule: the schedule is asked for
only after the payment, and the service makes it only when the ledger holds that
payment (services/schedules/repeat.py). Its key is the payment's (`repeat:` + the hop's
key), so a retried hop answers the same payment and the same schedule. The day and the
start are chosen when 9 is pressed and kept in the session, so a hop retried past
midnight asks for the very schedule the screen showed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.domain.money import nairobi_day
from app.errors import PayTraceError, ValidationFailed
from app.services.schedules.manage import NewSchedule
from app.ussd.engine import Context, End, Goto
from app.ussd.texts import text

CHOICE = "9"
# What the schedule runs at, as one made with *9 New* (schedules/new.py): no extra
# question on a keypad.
AT = time(9, 0)
# Every month has this day; a later one is a shorter month's last day (domain/schedules).
EVERY_MONTH_HAS = 28


def ordinal(day: int) -> str:
    """1st, 2nd, 3rd, 4th ... 11th, 12th, 13th ... 21st ... 31st."""
    if 10 <= day % 100 <= 20:
        return f"{day}th"
    return f"{day}{({1: 'st', 2: 'nd', 3: 'rd'}).get(day % 10, 'th')}"


def day_words(language: str, day: int) -> str:
    """'the 4th', 'the 31st (or month end)'; 'tarehe 4' in Kiswahili."""
    nth = ordinal(day) if language == "en" else str(day)
    return text(language, "rpt.day_end" if day > EVERY_MONTH_HAS else "rpt.day", nth=nth)


def chosen(ctx: Context, screen: str) -> Goto:
    """9 on a confirmation: today's day of the month (Nairobi) and tomorrow's start kept,
    then the repeat screen."""
    today = nairobi_day(datetime.now(UTC))
    start = today + timedelta(days=1)
    ctx.state.data["repeat"] = {"day": today.day, "start": start.isoformat()}
    return Goto(screen)


def wanted(ctx: Context) -> bool:
    return bool(ctx.state.data.get("repeat"))


def values(ctx: Context) -> dict[str, Any]:
    repeat = ctx.state.data.get("repeat") or {"day": 1}
    return {"on": day_words(ctx.lang, repeat["day"])}


async def schedule(
    ctx: Context, *, kind: str, payee: str, amount: int, paid_key: str
) -> str | None:
    """The monthly schedule of the payment just made under paid_key: None when made (or
    made on an earlier try of this hop), else the text key saying why not. The payment
    stands either way."""
    repeat = ctx.state.data["repeat"]
    try:
        await ctx.services.repeat_payment(
            NewSchedule(
                owner_user_id=ctx.user.user_id,
                kind=kind,
                payee=payee,
                amount=amount,
                frequency="monthly",
                day=repeat["day"],
                at_time=AT,
                start_date=date.fromisoformat(repeat["start"]),
                idempotency_key=f"repeat:{paid_key}",
                channel="ussd",
            ),
            paid_key=paid_key,
        )
    except ValidationFailed as exc:
        return "err.sch_too_many" if exc.code == "too_many_schedules" else "rpt.failed"
    except PayTraceError:  # the biller gone, the service unsure: set it up by hand
        return "rpt.failed"
    return None


def end(ctx: Context, name: str, why: str | None, shown: dict[str, Any]) -> End:
    """The END of a repeated payment: `end.<name>_repeat` (paid, and repeats on the day)
    or `end.<name>_once` (paid, not set to repeat, and why)."""
    if why is None:
        return End(f"end.{name}_repeat", {**shown, **values(ctx)})
    return End(f"end.{name}_once", {**shown, "why": text(ctx.lang, why)})
