"""Pay a bill over USSD: Pay's first screen, 1 (Bills / Airtime) -> 2. Pay a bill -> the
biller (paged) -> the account -> the holder's name as the biller gives it, and the
amount -> "KPLC prepaid 12345678901, JANE W. KES 1,000 + fee 0, cashback 10" + PIN
-> END with the reference (or 9, Repeat monthly: app/ussd/repeat/flow.py). 3. My
recent tokens sends the last five prepaid tokens again by SMS.

As Buy airtime (app/ussd/airtime/flow.py): the PIN-lock gate before anything is asked,
a re-prompt with the reason for a bad account, amount, limit or balance, and the confirm
hop's idempotency key from the hop (`ussd:<hop key>`), so a gateway's retry of that hop
never pays twice. The biller list is read once and kept in the session (a handful of
short names), so paging with 98 touches Redis only. The session keeps the biller, the
account, the holder's name and the quote, never the PIN.
"""

from __future__ import annotations

from typing import Any

from app.domain import pin as pin_rules
from app.domain.bills import Biller
from app.domain.gsm7 import to_gsm7
from app.domain.money import InvalidAmount, format_kes, parse_shillings
from app.errors import (
    BillerNotFound,
    InsufficientFunds,
    LimitExceeded,
    ValidationFailed,
)
from app.services.bills.payments import BillHeld
from app.ussd.airtime import flow as airtime
from app.ussd.bill_hold import hold_bill, repeat_held, why_not
from app.ussd.engine import Context, End, Goto, Outcome, Reprompt
from app.ussd.money_flow import display_name
from app.ussd.pin_steps import pin_lock_gate
from app.ussd.repeat import flow as repeat
from app.ussd.texts import TEXTS, text

PER_SCREEN = 5
# The most of a holder's name a screen shows (the biller's answer may be longer).
HOLDER_ON_SCREEN = 16


def biller_item(found: Biller) -> dict[str, Any]:
    return {
        "code": found.code,
        "name": found.name,
        "rule": found.rule.name,
        "low": found.min_amount,
        "high": found.max_amount,
    }


def account_word(ctx: Context, rule: str) -> str:
    """What the account is called on a screen ('meter', 'mita'), per account rule; a
    rule added since has the generic word."""
    key = f"bill.word_{rule}"
    return text(ctx.lang, key if key in TEXTS["en"] else "bill.word_account")


def holder_shown(name: str | None) -> str:
    """The biller's name for the account, as a screen may show it: GSM-7, cut short."""
    if not name:
        return ""
    return display_name(" ".join(to_gsm7(name, "").split()), HOLDER_ON_SCREEN)


async def airtime_chosen(ctx: Context, _: str) -> Outcome:
    return await airtime.airtime_start(ctx)


async def bills_open(ctx: Context, _: str) -> Outcome:
    """Bills / Airtime, 2: the PIN-lock gate, then the billers payable here (airtime is
    its own choice: the network is the number's)."""
    gate = await pin_lock_gate(ctx)
    if gate is not None:
        return gate
    found = await ctx.services.payable_billers()
    items = [biller_item(b) for b in found if b.category != "airtime"]
    if not items:
        return End("end.bill_none")
    ctx.state.data.update(b_all=items, b_page=0)
    ctx.state.data.pop("bill", None)
    return Goto("bill.list")


def _page(ctx: Context) -> tuple[list[dict[str, Any]], bool]:
    items = ctx.state.data.get("b_all") or []
    start = ctx.state.data.get("b_page", 0) * PER_SCREEN
    return items[start : start + PER_SCREEN], len(items) > start + PER_SCREEN


def list_values(ctx: Context) -> dict[str, Any]:
    shown, more = _page(ctx)
    lines = [f"{n}. {item['name']}" for n, item in enumerate(shown, 1)]
    if more:
        lines.append(text(ctx.lang, "nav.more"))
    return {"lines": "\n".join(lines)}


async def bill_choose(ctx: Context, value: str) -> Outcome:
    shown, more = _page(ctx)
    if value == "98" and more:
        ctx.state.data["b_page"] = ctx.state.data.get("b_page", 0) + 1
        return Goto("bill.list")
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= len(shown)):
        return Reprompt("err.invalid_option")
    ctx.state.data["bill"] = dict(shown[int(value) - 1])
    return Goto("bill.account")


def _bill(ctx: Context) -> dict[str, Any]:
    return ctx.state.data.get("bill") or {"name": "", "rule": "", "low": 0, "high": 0}


def account_values(ctx: Context) -> dict[str, Any]:
    bill = _bill(ctx)
    return {"biller": bill["name"], "what": account_word(ctx, bill["rule"])}


async def bill_account(ctx: Context, value: str) -> Outcome:
    bill = ctx.state.data.get("bill")
    if not bill:
        return Goto("bills", reset=True)
    try:
        check = await ctx.services.validate_bill_account(biller_code=bill["code"], account=value)
    except ValidationFailed:
        return Reprompt("err.bill_account", account_values(ctx))
    except BillerNotFound:  # taken off sale since the list was read
        return End("end.bill_not_sold")
    bill.update(account=check.account, holder=holder_shown(check.holder_name))
    bill.pop("amount", None)
    return Goto("bill.amount")


def amount_values(ctx: Context) -> dict[str, Any]:
    bill = _bill(ctx)
    holder = bill.get("holder") or ""
    return {
        **account_values(ctx),
        "account": bill.get("account", ""),
        "holder": f", {holder}" if holder else "",
        "low": format_kes(bill["low"]),
        "high": format_kes(bill["high"]),
    }


async def bill_amount(ctx: Context, value: str) -> Outcome:
    bill = ctx.state.data.get("bill")
    if not bill or not bill.get("account"):
        return Goto("bills", reset=True)
    try:
        amount = parse_shillings(value)
    except InvalidAmount as exc:
        return Reprompt(f"err.amount_{exc.reason}")
    try:
        quote = await ctx.services.quote_bill(
            user_id=ctx.user.user_id,
            biller_code=bill["code"],
            account=bill["account"],
            amount=amount,
        )
    except (LimitExceeded, InsufficientFunds) as exc:
        return why_not(exc)
    except ValidationFailed:
        return Reprompt("err.bill_amount", amount_values(ctx))
    except BillerNotFound:
        return End("end.bill_not_sold")
    bill.update(amount=quote.amount, fee=quote.fee, cashback=quote.cashback)
    return Goto("bill.confirm")


def confirm_values(ctx: Context) -> dict[str, Any]:
    bill = _bill(ctx)
    cashback = bill.get("cashback", 0)
    return {
        **amount_values(ctx),
        "amount": format_kes(bill.get("amount", 0)),
        "fee": format_kes(bill.get("fee", 0)),
        "cashback": text(ctx.lang, "bill.cashback", cashback=format_kes(cashback))
        if cashback
        else "",
    }


async def bill_confirm(ctx: Context, value: str) -> Outcome:
    bill = ctx.state.data.get("bill")
    if not bill or not bill.get("account") or not bill.get("amount"):
        return Goto("bills", reset=True)
    if value == repeat.CHOICE:
        return repeat.chosen(ctx, "bill.repeat")
    held = await _hold(ctx, value)
    if not isinstance(held, BillHeld):
        return held
    return End("end.bill", {**_shown(ctx, held), "balance": format_kes(held.balance)})


def repeat_values(ctx: Context) -> dict[str, Any]:
    return {**confirm_values(ctx), **repeat.values(ctx)}


async def bill_repeat(ctx: Context, value: str) -> Outcome:
    """'9. Repeat monthly': paid now as the confirmation pays, then the same bill
    scheduled monthly (app/ussd/repeat/flow.py)."""
    bill = ctx.state.data.get("bill")
    if not bill or not bill.get("account") or not bill.get("amount") or not repeat.wanted(ctx):
        return Goto("bills", reset=True)
    held = await _hold(ctx, value)
    if not isinstance(held, BillHeld):
        return held
    why = await repeat_held(ctx, held, "bill")
    return repeat.end(ctx, "bill", why, _shown(ctx, held))


async def _hold(ctx: Context, value: str) -> BillHeld | Outcome:
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    bill = ctx.state.data["bill"]
    return await hold_bill(
        ctx,
        value,
        biller_code=bill["code"],
        account=bill["account"],
        amount=bill["amount"],
        not_sold="end.bill_not_sold",
    )


def _shown(ctx: Context, held: BillHeld) -> dict[str, Any]:
    bill = ctx.state.data["bill"]
    return {
        "biller": bill["name"],
        "what": account_word(ctx, bill["rule"]),
        "account": held.payment.account,
        "amount": format_kes(held.payment.amount),
        "reference": held.payment.reference,
    }


async def tokens_resend(ctx: Context, _: str) -> Outcome:
    """Bills / Airtime, 3: the last prepaid tokens again, by SMS to this phone only."""
    ctx.committing()
    sent = await ctx.services.resend_tokens(user_id=ctx.user.user_id, key=f"ussd:{ctx.hop_key}")
    if not sent:
        return End("end.tokens_none")
    return End("end.tokens_sent", {"count": sent})
