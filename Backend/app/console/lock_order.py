"""The console's hot accounts: the accounts marked locked last in the ledger's lock
order, and (admins) the form that marks or unmarks one by its owner, through the admin
API's own service (app/services/lock_order.py; docs/operations.md, "A hot account").

A refused form answers the page again with the error and what was typed (never a 500);
its audit row says `refused` with the error's code. A change waits for movements in
flight (a quarter of a second a try, five tries); if the ledger stays busy the form says
so and nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.console.trail import Admin, Console, ConsoleRoute, Viewer
from app.console.web import reason_of, redirect
from app.domain.phone import InvalidPhone, normalise
from app.errors import LedgerBusy, NotFound, PayTraceError, ValidationFailed, refused
from app.services import lock_order
from app.services.admin_audit import REASON_MAX
from app.services.lock_order import Owner

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)

OWNER_KINDS = {
    "wallet": "a wallet, by its owner's phone",
    "merchant": "a merchant, by its id",
    "campaign": "a harambee's escrow, by its code",
}
DONE = {
    "marked": "Marked: movements take its lock after every other account's.",
    "unmarked": "Unmarked: its lock takes its place by its id again.",
    "unchanged": "It already was so: nothing changed.",
}
FORM_REFUSALS = (ValidationFailed, NotFound, LedgerBusy)


@dataclass(frozen=True)
class FormError:
    form: str  # mark
    code: str
    detail: str


def owner_of(form: dict[str, str]) -> Owner:
    """The owner the form names. Raises ValidationFailed."""
    kind, raw = form.get("owner_kind", ""), form.get("owner", "").strip()
    if kind not in OWNER_KINDS:
        raise refused("invalid_owner", "a wallet, a merchant or a harambee")
    if kind == "wallet":
        try:
            return Owner(phone=normalise(raw))
        except InvalidPhone:
            raise refused("invalid_phone", "a wallet's owner: a phone number") from None
    if kind == "merchant":
        if not raw.isdigit() or not 1 <= len(raw) <= 18 or int(raw) < 1:
            raise refused("invalid_owner", "a merchant: its number")
        return Owner(merchant_id=int(raw))
    if not (len(raw) == 6 and raw.isdigit() and raw[0] != "0"):
        raise refused("invalid_owner", "a harambee: its six-digit code")
    return Owner(campaign_code=raw)


async def hot_accounts_page(
    console: Console,
    *,
    done: str | None = None,
    error: FormError | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    if error is not None:
        console.audit.detail["error"] = error.code
    # From the primary: the page an admin lands on after a change shows it.
    marked = await console.run(lock_order.marked)
    return console.page(
        "lock_order.html",
        status_code=status_code,
        marked=marked,
        done=DONE.get(done or ""),
        error=error,
        values=values or {},
        owner_kinds=OWNER_KINDS,
        csrf=console.session.csrf,
        may_admin=console.session.role == "admin",
        reason_max=REASON_MAX,
    )


@router.get("/lock-order", name="hot_accounts")
async def hot_accounts(
    console: Viewer, done: Annotated[str | None, Query(max_length=16, pattern=r"^[a-z_]+$")] = None
) -> Response:
    return await hot_accounts_page(console, done=done)


@router.post("/lock-order", name="mark_hot_account")
async def mark(console: Admin) -> Response:
    """Mark (locked_last=1) or unmark (0) one owner's account; a reason is required."""
    form = console.form
    try:
        locked_last = {"1": True, "0": False}.get(form.get("locked_last", ""))
        if locked_last is None:
            raise refused("invalid_mark", "mark or unmark")
        owner = owner_of(form)
        console.audit.reason = reason_of(form)
        console.audit.detail["locked_last"] = locked_last
        # The account's id names the audit row, which the mark's own commit writes.
        found = await console.run(lock_order.account_of, owner)
        console.audit.target("ledger_account", str(found.account_id))
        _, changed = await console.run(lock_order.mark_locked_last, owner, locked_last)
    except FORM_REFUSALS as exc:
        return await _refused(console, exc)
    if not changed:  # nothing committed: the row written after the answer says so
        console.audit.detail["changed"] = False
        return redirect("/console/lock-order?done=unchanged")
    return redirect(f"/console/lock-order?done={'marked' if locked_last else 'unmarked'}")


async def _refused(console: Console, exc: PayTraceError) -> Response:
    return await hot_accounts_page(
        console,
        error=FormError("mark", exc.code, exc.detail),
        values={k: v for k, v in console.form.items() if k != "csrf"},
        status_code=exc.status_code,
    )
