"""The console's merchants: the list (with the onboarding form for admins), a merchant's
page, its full paged payments, orders and payouts, suspend and reactivate (admin), and an
event's redelivery to the merchant's webhook endpoints (operator). The forms that change
a merchant, its keys and its money are in merchant_forms.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.console.merchant_pages import list_page, merchant_page
from app.console.trail import Admin, Console, ConsoleRoute, Operating, Viewer
from app.console.web import redirect
from app.domain.records.pay_orders import OrderFilter
from app.errors import NotFound
from app.services import console_merchants, merchants, orders
from app.services.mpesa import merchant_payouts

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)

MerchantId = Annotated[int, Path(ge=1, le=2**63 - 1)]
EventId = Annotated[str, Path(max_length=40, pattern=r"^evt_[0-9a-f]{1,36}$")]
Before = Annotated[int | None, Query(ge=1, le=2**63 - 1)]
ROWS_PAGE = 50  # rows of a merchant's full payments, orders or payouts


@router.get("/merchants", name="merchants")
async def merchant_list(console: Viewer, before: Before = None) -> Response:
    return await list_page(console, before)


@router.get("/merchants/{merchant_id}", name="merchant")
async def merchant(
    merchant_id: MerchantId,
    console: Viewer,
    done: Annotated[str | None, Query(max_length=16, pattern=r"^[a-z_]+$")] = None,
) -> Response:
    console.audit.target("merchant", str(merchant_id))
    return await merchant_page(console, merchant_id, done=done)


async def _rows_page(
    console: Console,
    merchant_id: int,
    table: str,
    rows: Sequence[object],
    more: bool,
    older: int | None,
) -> Response:
    found = await console.run(merchants.get, merchant_id)
    if found is None:
        raise NotFound("no such merchant")
    return console.page(
        "merchant_rows.html",
        m=found,
        table=table,
        rows=rows,
        older=older if more and rows else None,
    )


@router.get("/merchants/{merchant_id}/payments", name="merchant_payments")
async def merchant_payments(merchant_id: MerchantId, console: Viewer, before: Before = None):
    """Every payment to the merchant's till, newest first, ROWS_PAGE at a time (keyset on
    the payment's transaction, as the merchant API pages them)."""
    console.audit.target("merchant", str(merchant_id))
    rows, more = await console.run(
        merchants.payments_page, merchant_id, limit=ROWS_PAGE, before_id=before
    )
    older = rows[-1].transaction_id if rows else None
    return await _rows_page(console, merchant_id, "payments", rows, more, older)


@router.get("/merchants/{merchant_id}/orders", name="merchant_orders")
async def merchant_orders(merchant_id: MerchantId, console: Viewer, before: Before = None):
    """The merchant's pay orders, newest first, as they are now (an overdue one expired)."""
    console.audit.target("merchant", str(merchant_id))
    rows, more = await console.run(
        orders.page,
        merchant_id,
        OrderFilter(before_id=before),
        limit=ROWS_PAGE,
        now=datetime.now(UTC),
    )
    older = rows[-1].id if rows else None
    return await _rows_page(console, merchant_id, "orders", rows, more, older)


@router.get("/merchants/{merchant_id}/payouts", name="merchant_payouts")
async def merchant_payout_list(merchant_id: MerchantId, console: Viewer, before: Before = None):
    """The merchant's payouts to its M-Pesa, newest first."""
    console.audit.target("merchant", str(merchant_id))
    rows, more = await console.run(
        merchant_payouts.page, merchant_id, limit=ROWS_PAGE, before_id=before
    )
    older = rows[-1].id if rows else None
    return await _rows_page(console, merchant_id, "payouts", rows, more, older)


async def _set_status(console: Admin, merchant_id: int, status: str) -> Response:
    console.audit.target("merchant", str(merchant_id))
    _, changed = await console.run(merchants.set_status, merchant_id, status)
    if not changed:  # nothing committed: the row written after the answer says so
        console.audit.detail["changed"] = False
    return redirect(f"/console/merchants/{merchant_id}?done={status}")


@router.post("/merchants/{merchant_id}/suspend", name="suspend_merchant")
async def suspend(merchant_id: MerchantId, console: Admin) -> Response:
    return await _set_status(console, merchant_id, "suspended")


@router.post("/merchants/{merchant_id}/reactivate", name="reactivate_merchant")
async def reactivate(merchant_id: MerchantId, console: Admin) -> Response:
    return await _set_status(console, merchant_id, "active")


@router.post("/merchants/{merchant_id}/events/{event_id}/redeliver", name="redeliver_event")
async def redeliver(merchant_id: MerchantId, event_id: EventId, console: Operating) -> Response:
    console.audit.target("merchant", str(merchant_id))
    console.audit.detail["event"] = event_id
    await console.run(console_merchants.redeliver, merchant_id, event_id)
    return redirect(f"/console/merchants/{merchant_id}?done=redelivered")
