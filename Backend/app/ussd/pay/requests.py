"""A merchant's request to pay, the first screen of the payer's next dial.

`open_pending` runs on the first hop of a session, and only when the caller's phone is
flagged in Redis (app/ussd/session_store.py: the flag is read in the same MGET as the
session and the cached profile, so a caller with nothing pending pays no extra round
trip, to Redis or to PostgreSQL). It asks the port for the payer's newest payable
request and, if there is one, opens the session on it:

    MAMA MBOGA asks KES 250 for Sukuma wiki.
    1. Pay  2. Decline  0. Later

1 is paying the order by its code (pay/flow.py: the PIN-lock gate, the quote, the
confirmation with the PIN, the same service and the hop's idempotency key); 2 declines
it (no PIN: declining moves no money); 0 goes to the main menu, and the request is shown
again on the next dial while it is pending.
"""

from __future__ import annotations

from typing import Any

from app.domain.money import format_kes
from app.errors import PayRequestNotPending
from app.ussd.engine import Context, End, Outcome, Reprompt, State
from app.ussd.pay import flow as pay
from app.ussd.pin_steps import pin_lock_gate
from app.ussd.ports import UssdServices
from app.ussd.texts import text

SCREEN = "payreq"


async def open_pending(state: State, services: UssdServices, home: str) -> bool:
    """Open the session on the caller's pending request to pay; False when there is
    none (the caller's flag is stale: the request was paid, declined or expired)."""
    assert state.user is not None
    pending = await services.pending_pay_request(payer_user_id=state.user.user_id)
    if pending is None:
        return False
    state.stack = [home, SCREEN]
    state.data = {
        "request": {
            "id": pending.id,
            "code": pending.order_code,
            "name": pending.merchant_name,
            "amount": pending.amount,
            "description": pending.description,
        }
    }
    return True


def request_values(ctx: Context) -> dict[str, Any]:
    asked = ctx.state.data.get("request") or {
        "name": "",
        "amount": 0,
        "description": None,
        "code": "",
    }
    label = asked["description"] or text(ctx.lang, "pay.order_label", code=asked["code"])
    return {"name": asked["name"], "amount": format_kes(asked["amount"]), "label": label}


async def request_choice(ctx: Context, value: str) -> Outcome:
    asked = ctx.state.data.get("request")
    if not asked:
        return End("end.payreq_gone")
    if value == "1":
        gate = await pin_lock_gate(ctx)
        if gate is not None:
            return gate
        outcome = await pay.pay_order_code(ctx, asked["code"])
        # Paid, expired or canceled since the dial began: say so and end.
        return pay.not_paid(ctx, outcome) if isinstance(outcome, Reprompt) else outcome
    if value == "2":
        try:
            await ctx.services.decline_pay_request(
                payer_user_id=ctx.user.user_id, request_id=asked["id"]
            )
        except PayRequestNotPending:
            return End("end.payreq_gone")
        return End("end.payreq_declined", request_values(ctx))
    return Reprompt("err.invalid_option")
