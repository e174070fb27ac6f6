"""My account's money screens: the balance and the mini statement, each behind the PIN.

The statement is fetched once, on the PIN hop, and kept in the session as short
display values (no names in full, no phone numbers); paging it with 98 touches
Redis only.
"""

from __future__ import annotations

from typing import Any

from app.domain import pin as pin_rules
from app.domain.money import NAIROBI, format_kes
from app.domain.records.ledger import StatementLine
from app.errors import PinLocked, WrongPin
from app.ussd.engine import Context, End, Goto, Outcome, Reprompt
from app.ussd.pin_steps import pin_refused
from app.ussd.texts import text

LINES_PER_PAGE = 3
# Movements shown by what they were rather than by whom (texts "statement.<kind>").
KINDS_SHOWN_BY_NAME = ("cash_in", "reversal", "deposit", "withdrawal", "withdrawal_release")
KINDS_SHOWN_BY_NAME += ("contribution", "campaign_payout", "campaign_refund", "merchant_payment")
KINDS_SHOWN_BY_NAME += ("merchant_refund", "bill_hold", "bill_release", "cashback")
KINDS_SHOWN_BY_NAME += ("referral_bonus", "wage_hold", "wage_payment", "wage_release")
KINDS_SHOWN_BY_NAME += ("bill_reversal",)


async def balance_pin(ctx: Context, value: str) -> Outcome:
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    try:
        cents = await ctx.services.balance(
            user_id=ctx.user.user_id, pin=value, attempt_key=f"ussd:{ctx.hop_key}"
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    return End("end.balance", {"balance": format_kes(cents)})


async def statement_pin(ctx: Context, value: str) -> Outcome:
    if not pin_rules.is_well_formed(value):
        return Reprompt("err.pin_format")
    try:
        entries = await ctx.services.mini_statement(
            user_id=ctx.user.user_id, pin=value, attempt_key=f"ussd:{ctx.hop_key}"
        )
    except (WrongPin, PinLocked) as exc:
        return pin_refused(ctx, exc)
    ctx.state.data["statement"] = [statement_line(entry) for entry in entries]
    ctx.state.stack.pop()  # 0 on the statement goes back to My account, not to the PIN
    return Goto("statement")


def short_name(full_name: str) -> str:
    """'Amina Wanjiru Otieno' -> 'Amina O.': at most 10 characters."""
    words = full_name.split()
    if not words:
        return "-"
    if len(words) == 1:
        return words[0][:10]
    return f"{words[0][:7]} {words[-1][0]}."


def statement_line(entry: StatementLine) -> dict[str, Any]:
    return {
        "day": entry.created_at.astimezone(NAIROBI).strftime("%d/%m"),
        "kind": entry.kind,
        "who": short_name(entry.counterparty_name) if entry.counterparty_name else "-",
        "amount": entry.amount,
        "ref": entry.reference,
    }


def _show(ctx: Context, line: dict[str, Any]) -> str:
    kind = line["kind"]
    who = text(ctx.lang, f"statement.{kind}") if kind in KINDS_SHOWN_BY_NAME else line["who"]
    sign = "+" if line["amount"] > 0 else ""
    return f"{line['day']} {who} {sign}{format_kes(line['amount'])} {line['ref']}"


def statement_pages(ctx: Context) -> list[str]:
    """Three movements a screen, newest first, each: dd/mm who +/-amount reference."""
    lines = [_show(ctx, line) for line in ctx.state.data.get("statement", [])]
    if not lines:
        return [text(ctx.lang, "statement.empty")]
    chunks = [lines[i : i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)]
    return [
        "\n".join([text(ctx.lang, "statement.title", page=n, pages=len(chunks)), *chunk])
        for n, chunk in enumerate(chunks, 1)
    ]
