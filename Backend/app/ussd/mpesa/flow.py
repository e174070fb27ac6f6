"""Deposit and Withdraw over USSD, through M-Pesa to the caller's own number.

Deposit: amount -> END "check your phone" (the STK push is queued; the wallet is
credited on M-Pesa's result and the user told by SMS). Withdraw mirrors Send money:
amount -> confirmation with the fee -> PIN -> END; the amount and fee are held at once
and M-Pesa pays out later. Both hops that commit take their idempotency key from the
hop (`ussd:<hop key>`), so a gateway retry never asks M-Pesa twice.
"""

from __future__ import annotations

from typing import Any

from app.domain import mpesa
from app.domain import pin as pin_rules
from app.domain.money import InvalidAmount, format_kes, parse_shillings
from app.domain.phone import mask
from app.errors import (
    InsufficientFunds,
    LimitExceeded,
    MpesaUnavailable,
    PinLocked,
    ValidationFailed,
    WrongPin,
)
from app.services.mpesa.deposits import DepositRequest
from app.services.mpesa.withdrawals import WithdrawalRequest
from app.ussd.engine import Context, End, Goto, Outcome, Reprompt
from app.ussd.pin_steps import pin_lock_gate, pin_refused
from app.ussd.texts import text


def phone_values(ctx: Context) -> dict[str, Any]:
    return {"masked_phone": mask(ctx.user.phone)}


def confirm_values(ctx: Context) -> dict[str, Any]:
    amount, fee = ctx.state.data.get("amount", 0), ctx.state.data.get("fee", 0)
    return {
        **phone_values(ctx),
        "amount": format_kes(amount),
        "fee": format_kes(fee),
        "total": format_kes(amount + fee),
    }


def _amount(value: str) -> int | Reprompt:
    try:
        amount = parse_shillings(value)
    except InvalidAmount as exc:
        return Reprompt(f"err.amount_{exc.reason}")
    if amount > mpesa.MAX_PAYMENT:
        return Reprompt("err.mpesa_max")
    return amount


def _why_not(exc: LimitExceeded | InsufficientFunds) -> Reprompt:
    if isinstance(exc, LimitExceeded):
        return Reprompt(f"err.limit_{exc.limit}", {"allowed": format_kes(exc.allowed)})
    return Reprompt(
        "err.insufficient", {"balance": format_kes(exc.balance), "needed": format_kes(exc.needed)}
    )


# ---- deposit ---------------------------------------------------------------------------


async def deposit_start(ctx: Context, _: str) -> Outcome:
    return Goto("deposit.amount")


async def deposit_amount(ctx: Context, value: str) -> Outcome:
    amount = _amount(value)
    if isinstance(amount, Reprompt):
        return amount
    ctx.committing()
    try:
        asked = await ctx.services.request_deposit(
            DepositRequest(
                user_id=ctx.user.user_id,
                amount=amount,
                idempotency_key=f"ussd:{ctx.hop_key}",
                channel="ussd",
            )
        )
    except MpesaUnavailable:
        return End("end.mpesa_unavailable")
    except ValidationFailed as exc:
        if exc.code == "not_an_mpesa_number":
            return End("end.not_mpesa_number")
        return Reprompt("err.amount_too_large")
    return End("end.deposit_requested", {"amount": format_kes(asked.deposit.amount)})


# ---- withdraw --------------------------------------------------------------------------


async def withdraw_start(ctx: Context, _: str) -> Outcome:
    """Main menu 3: a locked PIN cannot withdraw, so say so before asking anything."""
    return await pin_lock_gate(ctx) or Goto("withdraw.amount")


async def withdraw_amount(ctx: Context, value: str) -> Outcome:
    amount = _amount(value)
    if isinstance(amount, Reprompt):
        return amount
    if amount < mpesa.MIN_WITHDRAWAL:
        return Reprompt("err.withdraw_min")
    try:
        quote = await ctx.services.quote_withdrawal(user_id=ctx.user.user_id, amount=amount)
    except (LimitExceeded, InsufficientFunds) as exc:
        return _why_not(exc)
    except ValidationFailed as exc:
        if exc.code == "not_an_mpesa_number":
            return End("end.not_mpesa_number")
        return Reprompt("err.amount_too_large")
    ctx.state.data.update(amount=quote.amount, fee=quote.fee)
    return Goto("withdraw.confirm")


async def withdraw_confirm(ctx: Context, value: str) -> Outcome:
    data = ctx.state.data
    if not data.get("amount"):
        return Goto("withdraw.amount", reset=True)
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    ctx.committing()
    try:
        held = await ctx.services.withdraw(
            WithdrawalRequest(
                user_id=ctx.user.user_id,
                amount=data["amount"],
                idempotency_key=f"ussd:{ctx.hop_key}",
                channel="ussd",
            ),
            pin=value,
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    # The balance or the limits changed since the quote: nothing was held.
    except (LimitExceeded, InsufficientFunds) as exc:
        reason = _why_not(exc)
        return End("end.not_withdrawn", {"reason": text(ctx.lang, reason.error, **reason.values)})
    except MpesaUnavailable:
        return End("end.mpesa_unavailable")
    return End(
        "end.withdraw_requested",
        {
            "amount": format_kes(held.withdrawal.amount),
            "fee": format_kes(held.withdrawal.fee),
            "reference": held.withdrawal.reference,
            "balance": format_kes(held.balance),
        },
    )
