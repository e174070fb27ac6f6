"""The confirm hop that Buy airtime and Pay a bill both end on: the PIN checked and the
amount and fee held, once per hop (the hop's key), or the screen that says why not; and
with '9. Repeat monthly', the monthly schedule of the bill held (app/ussd/repeat/)."""

from __future__ import annotations

from app.domain.money import format_kes
from app.errors import (
    BillerNotFound,
    BillerUnavailable,
    InsufficientFunds,
    LimitExceeded,
    PinLocked,
    ValidationFailed,
    WrongPin,
)
from app.services.bills.payments import BillHeld, BillRequest
from app.ussd.engine import Context, End, Outcome, Reprompt
from app.ussd.pin_steps import pin_refused
from app.ussd.repeat import flow as repeat
from app.ussd.texts import text


def why_not(exc: LimitExceeded | InsufficientFunds) -> Reprompt:
    """The re-prompt for an amount over a limit or the balance."""
    if isinstance(exc, LimitExceeded):
        return Reprompt(f"err.limit_{exc.limit}", {"allowed": format_kes(exc.allowed)})
    return Reprompt(
        "err.insufficient", {"balance": format_kes(exc.balance), "needed": format_kes(exc.needed)}
    )


def paid_key(ctx: Context) -> str:
    """The bill's idempotency key: the confirming hop's."""
    return f"ussd:{ctx.hop_key}"


async def repeat_held(ctx: Context, held: BillHeld, kind: str) -> str | None:
    """The monthly schedule (kind 'bill' or 'airtime') of the bill this hop held: None
    when made, else the text key of why not (the bill stands)."""
    paid = held.payment
    return await repeat.schedule(
        ctx,
        kind=kind,
        payee=f"{paid.biller_code}:{paid.account}",
        amount=paid.amount,
        paid_key=paid_key(ctx),
    )


async def hold_bill(
    ctx: Context, pin: str, *, biller_code: str, account: str, amount: int, not_sold: str
) -> BillHeld | Outcome:
    """Hold the bill with the caller's PIN: what the service held, or the outcome that
    ends the hop (a PIN refusal; the balance or the limits changed since the quote, so
    nothing was paid; the biller taken off sale: the `not_sold` screen)."""
    ctx.committing()
    try:
        return await ctx.services.pay_bill(
            BillRequest(
                user_id=ctx.user.user_id,
                biller_code=biller_code,
                account=account,
                amount=amount,
                idempotency_key=paid_key(ctx),
                channel="ussd",
            ),
            pin=pin,
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    except (LimitExceeded, InsufficientFunds) as exc:
        reason = why_not(exc)
        return End("end.not_paid", {"reason": text(ctx.lang, reason.error, **reason.values)})
    except (BillerNotFound, BillerUnavailable, ValidationFailed):
        return End(not_sold)
