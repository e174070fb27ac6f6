"""Send money over USSD: recipient, amount, confirmation with the PIN.

The session keeps only what the next screen needs (the recipient's name and
number, the quoted amount and fee), never the PIN. 9 on the confirmation (Repeat
monthly) sends the same way, then schedules it monthly (app/ussd/repeat/flow.py).
The confirm hop's idempotency key is derived from the hop (`ussd:<hop key>`, an HMAC
of AT's sessionId and the text), so a gateway retry of that hop can never send twice,
even one that misses the hop replay cache.
"""

from __future__ import annotations

from typing import Any

from app.domain import pin as pin_rules
from app.domain.money import InvalidAmount, format_kes, parse_shillings
from app.domain.phone import InvalidPhone, mask, normalise
from app.errors import (
    InsufficientFunds,
    InviteLimitReached,
    LimitExceeded,
    PinLocked,
    RecipientNotRegistered,
    ValidationFailed,
    WrongPin,
)
from app.services.ledger import Movement
from app.services.transfers import TransferRequest
from app.ussd.engine import Context, End, Goto, Outcome, Reprompt
from app.ussd.pin_steps import pin_lock_gate, pin_refused
from app.ussd.repeat import flow as repeat
from app.ussd.texts import text

# Enough for most full names; keeps the confirmation on one screen in both languages.
NAME_ON_SCREEN = 20


def display_name(full_name: str, limit: int = NAME_ON_SCREEN) -> str:
    """The name as a screen shows it: whole words up to limit characters."""
    if len(full_name) <= limit:
        return full_name
    shown = ""
    for word in full_name.split():
        candidate = f"{shown} {word}" if shown else word
        if len(candidate) > limit:
            break
        shown = candidate
    return shown or full_name[:limit]


# ---- values the send screens show ------------------------------------------------


def invitee_values(ctx: Context) -> dict[str, Any]:
    return {"masked_phone": mask(ctx.state.data.get("invitee", ""))}


def recipient_values(ctx: Context) -> dict[str, Any]:
    to = ctx.state.data.get("to") or {"name": "", "phone": ""}
    return {"name": display_name(to["name"]), "masked_phone": mask(to["phone"])}


def confirm_values(ctx: Context) -> dict[str, Any]:
    data = ctx.state.data
    amount, fee = data.get("amount", 0), data.get("fee", 0)
    return {
        **recipient_values(ctx),
        "amount": format_kes(amount),
        "fee": format_kes(fee),
        "total": format_kes(amount + fee),
    }


def _limit_reason(exc: LimitExceeded) -> Reprompt:
    return Reprompt(f"err.limit_{exc.limit}", {"allowed": format_kes(exc.allowed)})


def _funds_reason(exc: InsufficientFunds) -> Reprompt:
    return Reprompt(
        "err.insufficient", {"balance": format_kes(exc.balance), "needed": format_kes(exc.needed)}
    )


def _not_sent(ctx: Context, reason: Reprompt) -> End:
    return End("end.not_sent", {"reason": text(ctx.lang, reason.error, **reason.values)})


# ---- the journey -------------------------------------------------------------------


async def send_start(ctx: Context, _: str) -> Outcome:
    """Main menu 1: a locked PIN cannot send, so say so before asking anything."""
    return await pin_lock_gate(ctx) or Goto("send.phone")


async def send_phone(ctx: Context, value: str) -> Outcome:
    try:
        phone = normalise(value)
    except InvalidPhone:
        return Reprompt("err.phone_invalid")
    if phone == ctx.state.phone:
        return Reprompt("err.send_to_self")
    try:
        payee = await ctx.services.find_recipient(sender_user_id=ctx.user.user_id, phone=phone)
    except RecipientNotRegistered:
        ctx.state.data["invitee"] = phone
        return Goto("send.not_registered")
    except ValidationFailed as exc:
        if exc.code != "send_to_self":
            raise
        return Reprompt("err.send_to_self")
    ctx.state.data["to"] = {"name": payee.full_name, "phone": payee.phone}
    return Goto("send.amount")


async def send_invite(ctx: Context, _: str) -> Outcome:
    phone = ctx.state.data.get("invitee")
    if not phone:
        return Goto("send.phone", reset=True)
    try:
        sent = await ctx.services.invite(sender_user_id=ctx.user.user_id, phone=phone)
    except InviteLimitReached as exc:
        return End("end.invite_limit", {"limit": exc.limit})
    except ValidationFailed:
        # They registered in the meantime: carry on to the amount.
        ctx.state.stack.pop()
        return await send_phone(ctx, phone)
    key = "end.invite_sent" if sent else "end.invite_already"
    return End(key, {"masked_phone": mask(phone)})


async def send_other_number(ctx: Context, _: str) -> Outcome:
    ctx.state.stack.pop()  # back to the phone prompt
    return Goto("send.phone")


async def send_amount(ctx: Context, value: str) -> Outcome:
    if not ctx.state.data.get("to"):
        return Goto("send.phone", reset=True)
    try:
        amount = parse_shillings(value)
    except InvalidAmount as exc:
        return Reprompt(f"err.amount_{exc.reason}")
    try:
        quote = await ctx.services.quote_transfer(sender_user_id=ctx.user.user_id, amount=amount)
    except LimitExceeded as exc:
        return _limit_reason(exc)
    except InsufficientFunds as exc:
        return _funds_reason(exc)
    except ValidationFailed:  # no fee band covers it: beyond anything a tier allows
        return Reprompt("err.amount_too_large")
    ctx.state.data.update(amount=quote.amount, fee=quote.fee)
    return Goto("send.confirm")


async def send_confirm(ctx: Context, value: str) -> Outcome:
    data = ctx.state.data
    if not data.get("to") or not data.get("amount"):
        return Goto("send.phone", reset=True)
    if value == repeat.CHOICE:
        return repeat.chosen(ctx, "send.repeat")
    sent = await _send(ctx, value)
    if not isinstance(sent, Movement):
        return sent
    return End(
        "end.sent",
        {
            **recipient_values(ctx),
            "amount": format_kes(sent.amount),
            "fee": format_kes(sent.fee),
            "reference": sent.reference,
            "balance": format_kes(sent.balances[ctx.user.user_id]),
        },
    )


def repeat_values(ctx: Context) -> dict[str, Any]:
    return {**confirm_values(ctx), **repeat.values(ctx)}


async def send_repeat(ctx: Context, value: str) -> Outcome:
    """Send money's '9. Repeat monthly': sent now as the confirmation sends, then the
    monthly schedule of the same transfer (app/ussd/repeat/flow.py)."""
    data = ctx.state.data
    if not data.get("to") or not data.get("amount") or not repeat.wanted(ctx):
        return Goto("send.phone", reset=True)
    sent = await _send(ctx, value)
    if not isinstance(sent, Movement):
        return sent
    why = await repeat.schedule(
        ctx,
        kind="transfer",
        payee=data["to"]["phone"],
        amount=sent.amount,
        paid_key=_key(ctx),
    )
    shown = {
        **recipient_values(ctx),
        "amount": format_kes(sent.amount),
        "reference": sent.reference,
    }
    return repeat.end(ctx, "sent", why, shown)


def _key(ctx: Context) -> str:
    return f"ussd:{ctx.hop_key}"


async def _send(ctx: Context, value: str) -> Movement | Outcome:
    """The transfer the session quoted, with the PIN: what the ledger moved, or the
    outcome that ends the hop (a PIN refused; nothing sent, and why)."""
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    data = ctx.state.data
    ctx.committing()
    try:
        return await ctx.services.send_money(
            TransferRequest(
                sender_user_id=ctx.user.user_id,
                recipient_phone=data["to"]["phone"],
                amount=data["amount"],
                idempotency_key=_key(ctx),
                channel="ussd",
            ),
            pin=value,
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    # The balance or the limits changed since the quote: nothing was sent.
    except LimitExceeded as exc:
        return _not_sent(ctx, _limit_reason(exc))
    except InsufficientFunds as exc:
        return _not_sent(ctx, _funds_reason(exc))
    except RecipientNotRegistered:
        return _not_sent(ctx, Reprompt("err.recipient_gone"))
