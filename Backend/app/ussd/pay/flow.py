"""Pay a merchant over USSD: its till number then an amount, or one of its pay orders by
code (the order's amount: no amount screen), then a confirmation with the PIN.

The first screen tells them apart by length alone: 5 to 7 digits are a till, 8 digits an
order code, whose Luhn check digit is checked before any lookup (a slip of the thumb
re-prompts, never finds somebody else's order).

Mirrors Send money (money_flow.py): the PIN-lock gate before anything is asked, a
re-prompt with the reason for a bad or unknown till, a limit or a low balance, and the
confirm hop's idempotency key taken from the hop (`ussd:<hop key>`), so a gateway retry
of that hop can never pay twice. The session keeps the merchant's name and till and the
quoted amount and fee, never the PIN.
"""

from __future__ import annotations

from typing import Any

from app.domain import pin as pin_rules
from app.domain.merchants import is_till
from app.domain.money import InvalidAmount, format_kes, parse_shillings
from app.domain.pay_orders import CODE_LENGTH, is_order_code
from app.errors import (
    InsufficientFunds,
    LimitExceeded,
    MerchantNotFound,
    MerchantUnavailable,
    OrderNotFound,
    OrderNotPayable,
    PinLocked,
    ValidationFailed,
    WrongOrderAmount,
    WrongPin,
)
from app.services.merchant_payments.payments import MerchantPaymentRequest
from app.ussd.engine import Context, End, Goto, Outcome, Reprompt
from app.ussd.pin_steps import pin_lock_gate, pin_refused
from app.ussd.texts import text

# What Pay's first screen takes for Bills / Airtime: a till is 5 to 7 digits, never 1.
BILLS = "1"


def merchant_values(ctx: Context) -> dict[str, Any]:
    merchant = ctx.state.data.get("merchant") or {"name": "", "till": ""}
    return {"name": merchant["name"], "till": merchant["till"]}


def confirm_values(ctx: Context) -> dict[str, Any]:
    data = ctx.state.data
    return {
        **merchant_values(ctx),
        "amount": format_kes(data.get("amount", 0)),
        "fee": format_kes(data.get("fee", 0)),
    }


def order_label(ctx: Context) -> str:
    """What the payer pays for: the order's description, else "order <code>" in their
    language."""
    order = ctx.state.data.get("order") or {"code": "", "description": None}
    return order["description"] or text(ctx.lang, "pay.order_label", code=order["code"])


def order_confirm_values(ctx: Context) -> dict[str, Any]:
    return {**confirm_values(ctx), "label": order_label(ctx)}


def _order_gone(exc: OrderNotFound | OrderNotPayable) -> Reprompt:
    """order_not_found, order_paid, order_expired, order_canceled: each its own words."""
    return Reprompt(f"err.{exc.code}")


def _why_not(exc: LimitExceeded | InsufficientFunds) -> Reprompt:
    if isinstance(exc, LimitExceeded):
        return Reprompt(f"err.limit_{exc.limit}", {"allowed": format_kes(exc.allowed)})
    return Reprompt(
        "err.insufficient", {"balance": format_kes(exc.balance), "needed": format_kes(exc.needed)}
    )


def not_paid(ctx: Context, reason: Reprompt) -> End:
    return End("end.not_paid", {"reason": text(ctx.lang, reason.error, **reason.values)})


def _merchant_gone(exc: MerchantNotFound | MerchantUnavailable) -> Reprompt:
    return Reprompt("err.till_unknown" if isinstance(exc, MerchantNotFound) else "err.till_closed")


async def pay_start(ctx: Context, _: str) -> Outcome:
    """Main menu 5: a locked PIN cannot pay, so say so before asking anything."""
    return await pin_lock_gate(ctx) or Goto("pay.till")


async def pay_till(ctx: Context, value: str) -> Outcome:
    till = value.strip()
    if till == BILLS:
        return Goto("bills")
    if len(till) == CODE_LENGTH and till.isdigit():
        return await pay_order_code(ctx, till)
    if not is_till(till):
        return Reprompt("err.till_invalid")
    try:
        payee = await ctx.services.find_merchant(till=till)
    except (MerchantNotFound, MerchantUnavailable) as exc:
        return _merchant_gone(exc)
    ctx.state.data["merchant"] = {"name": payee.display_name, "till": payee.till}
    return Goto("pay.amount")


async def pay_order_code(ctx: Context, code: str) -> Outcome:
    """An order code (typed, or a merchant's request to pay): checked digit first, then
    the quote (the order's merchant, amount,
    description; limits and balance), then straight to the PIN."""
    if not is_order_code(code):
        return Reprompt("err.order_code_invalid")
    try:
        quote = await ctx.services.quote_merchant_payment(
            payer_user_id=ctx.user.user_id, order_code=code
        )
    except (OrderNotFound, OrderNotPayable) as exc:
        return _order_gone(exc)
    except (MerchantNotFound, MerchantUnavailable) as exc:
        return _merchant_gone(exc)
    # The amount is the order's: nothing the payer can type changes it.
    except (LimitExceeded, InsufficientFunds) as exc:
        return not_paid(ctx, _why_not(exc))
    except ValidationFailed:  # beyond anything a tier allows
        return not_paid(ctx, Reprompt("err.amount_too_large"))
    ctx.state.data.update(
        merchant={"name": quote.display_name, "till": quote.till},
        order={"code": code, "description": quote.description},
        amount=quote.amount,
        fee=quote.payer_fee,
    )
    return Goto("pay.confirm_order")


async def pay_amount(ctx: Context, value: str) -> Outcome:
    merchant = ctx.state.data.get("merchant")
    if not merchant:
        return Goto("pay.till", reset=True)
    try:
        amount = parse_shillings(value)
    except InvalidAmount as exc:
        return Reprompt(f"err.amount_{exc.reason}")
    try:
        quote = await ctx.services.quote_merchant_payment(
            payer_user_id=ctx.user.user_id, till=merchant["till"], amount=amount
        )
    except (LimitExceeded, InsufficientFunds) as exc:
        return _why_not(exc)
    except (MerchantNotFound, MerchantUnavailable) as exc:  # suspended since the till hop
        return not_paid(ctx, _merchant_gone(exc))
    except ValidationFailed:  # beyond anything a tier allows
        return Reprompt("err.amount_too_large")
    ctx.state.data.update(amount=quote.amount, fee=quote.payer_fee)
    ctx.state.data.pop("order", None)
    return Goto("pay.confirm")


async def pay_confirm(ctx: Context, value: str) -> Outcome:
    data = ctx.state.data
    if not data.get("merchant") or not data.get("amount"):
        return Goto("pay.till", reset=True)
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    order = data.get("order")
    ctx.committing()
    try:
        paid = await ctx.services.pay_merchant(
            MerchantPaymentRequest(
                payer_user_id=ctx.user.user_id,
                till=None if order else data["merchant"]["till"],
                # For an order: the amount shown, which must still be the order's.
                amount=data["amount"],
                idempotency_key=f"ussd:{ctx.hop_key}",
                channel="ussd",
                order_code=order["code"] if order else None,
            ),
            pin=value,
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    # Paid by somebody else, expired or canceled since the quote: nothing was paid.
    except (OrderNotFound, OrderNotPayable) as exc:
        return not_paid(ctx, _order_gone(exc))
    except WrongOrderAmount:  # the order's terms never change: unreachable in practice
        return not_paid(ctx, Reprompt("err.order_not_found"))
    # The balance, the limits or the merchant changed since the quote: nothing was paid.
    except (LimitExceeded, InsufficientFunds) as exc:
        return not_paid(ctx, _why_not(exc))
    except (MerchantNotFound, MerchantUnavailable) as exc:
        return not_paid(ctx, _merchant_gone(exc))
    if order:
        return End(
            "end.paid_order",
            {
                "name": paid.display_name,
                "label": order_label(ctx),
                "amount": format_kes(paid.amount),
                "reference": paid.reference,
                "balance": format_kes(paid.balance),
            },
        )
    return End(
        "end.paid",
        {
            "name": paid.display_name,
            "till": paid.till,
            "amount": format_kes(paid.amount),
            "reference": paid.reference,
            "balance": format_kes(paid.balance),
        },
    )
