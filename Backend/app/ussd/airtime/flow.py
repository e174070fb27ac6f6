"""Buy airtime over USSD: Pay's first screen, 1 (Bills / Airtime), 1 -> my number or
another number -> the amount -> "Airtime Safaricom 0712 345 678 KES 100 + fee KES 0" +
PIN -> END with the reference. The network (and so the biller) is the number's own: the user types a
number, never picks a network.

As Pay a merchant: the PIN-lock gate first, a re-prompt with the reason for a bad
number, amount, limit or balance, and the confirm hop's idempotency key from the hop
(`ussd:<hop key>`), so a gateway's retry of that hop never pays twice. The session keeps
the biller, the number and the quote, never the PIN. The top-up itself is the worker's:
the END says it is on its way, and the SMS says when it is delivered.
"""

from __future__ import annotations

from typing import Any

from app.domain import pin as pin_rules
from app.domain.money import InvalidAmount, format_kes, parse_shillings
from app.domain.phone import local
from app.errors import (
    BillerNotFound,
    InsufficientFunds,
    LimitExceeded,
    ValidationFailed,
)
from app.services.bills.payments import BillHeld
from app.ussd.bill_hold import hold_bill, repeat_held, why_not
from app.ussd.engine import Context, End, Goto, Outcome, Reprompt
from app.ussd.pin_steps import pin_lock_gate
from app.ussd.repeat import flow as repeat


def number_values(ctx: Context) -> dict[str, Any]:
    air = ctx.state.data.get("air") or {"name": "", "phone": ""}
    return {"biller": air["name"], "phone": local(air["phone"])}


def confirm_values(ctx: Context) -> dict[str, Any]:
    data = ctx.state.data
    return {
        **number_values(ctx),
        "amount": format_kes(data.get("amount", 0)),
        "fee": format_kes(data.get("fee", 0)),
    }


async def airtime_start(ctx: Context) -> Outcome:
    """Bills / Airtime, 1: a locked PIN cannot pay, so say so before asking."""
    return await pin_lock_gate(ctx) or Goto("air.who")


async def my_number(ctx: Context, _: str) -> Outcome:
    return await _number(ctx, ctx.user.phone)


async def another_number(ctx: Context, value: str) -> Outcome:
    return await _number(ctx, value)


async def _number(ctx: Context, phone: str) -> Outcome:
    try:
        check = await ctx.services.airtime_biller(phone=phone)
    except ValidationFailed:
        return Reprompt("err.air_phone")
    except BillerNotFound:
        return Reprompt("err.air_network")
    ctx.state.data["air"] = {
        "biller": check.biller.code,
        "name": check.biller.name,
        "phone": check.account,
        "low": check.biller.min_amount,
        "high": check.biller.max_amount,
    }
    return Goto("air.amount")


async def airtime_amount(ctx: Context, value: str) -> Outcome:
    air = ctx.state.data.get("air")
    if not air:
        return Goto("air.who", reset=True)
    try:
        amount = parse_shillings(value)
    except InvalidAmount as exc:
        return Reprompt(f"err.amount_{exc.reason}")
    try:
        quote = await ctx.services.quote_bill(
            user_id=ctx.user.user_id, biller_code=air["biller"], account=air["phone"], amount=amount
        )
    except (LimitExceeded, InsufficientFunds) as exc:
        return why_not(exc)
    except ValidationFailed:
        low, high = format_kes(air["low"]), format_kes(air["high"])
        return Reprompt("err.air_amount", {"low": low, "high": high})
    except BillerNotFound:  # taken off sale since the number's hop
        return End("end.air_not_sold")
    ctx.state.data.update(amount=quote.amount, fee=quote.fee)
    return Goto("air.confirm")


async def airtime_confirm(ctx: Context, value: str) -> Outcome:
    data = ctx.state.data
    if not data.get("air") or not data.get("amount"):
        return Goto("air.who", reset=True)
    if value == repeat.CHOICE:
        return repeat.chosen(ctx, "air.repeat")
    held = await _hold(ctx, value)
    if not isinstance(held, BillHeld):
        return held
    return End("end.airtime", {**_shown(ctx, held), "balance": format_kes(held.balance)})


def repeat_values(ctx: Context) -> dict[str, Any]:
    return {**confirm_values(ctx), **repeat.values(ctx)}


async def airtime_repeat(ctx: Context, value: str) -> Outcome:
    """'9. Repeat monthly': bought now as the confirmation buys, then the same top-up
    scheduled monthly (app/ussd/repeat/flow.py)."""
    data = ctx.state.data
    if not data.get("air") or not data.get("amount") or not repeat.wanted(ctx):
        return Goto("air.who", reset=True)
    held = await _hold(ctx, value)
    if not isinstance(held, BillHeld):
        return held
    why = await repeat_held(ctx, held, "airtime")
    return repeat.end(ctx, "airtime", why, _shown(ctx, held))


async def _hold(ctx: Context, value: str) -> BillHeld | Outcome:
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    air, data = ctx.state.data["air"], ctx.state.data
    return await hold_bill(
        ctx,
        value,
        biller_code=air["biller"],
        account=air["phone"],
        amount=data["amount"],
        not_sold="end.air_not_sold",
    )


def _shown(ctx: Context, held: BillHeld) -> dict[str, Any]:
    return {
        "biller": ctx.state.data["air"]["name"],
        "amount": format_kes(held.payment.amount),
        "phone": local(held.payment.account),
        "reference": held.payment.reference,
    }
