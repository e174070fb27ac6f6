"""The console's merchants: the list, a merchant's page, suspend and reactivate (admin),
and an event's redelivery to the merchant's webhook endpoints (operator)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.console.trail import Admin, ConsoleRoute, Operating, Viewer
from app.console.web import redirect
from app.errors import NotFound
from app.services import console_merchants, merchants

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)

MerchantId = Annotated[int, Path(ge=1, le=2**63 - 1)]
EventId = Annotated[str, Path(max_length=40, pattern=r"^evt_[0-9a-f]{1,36}$")]
MERCHANTS_PAGE = 50


@router.get("/merchants", name="merchants")
async def merchant_list(
    console: Viewer, before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None
) -> Response:
    rows, more = await console.run(merchants.page, limit=MERCHANTS_PAGE, before_id=before)
    return console.page("merchants.html", rows=rows, older=rows[-1].id if more and rows else None)


@router.get("/merchants/{merchant_id}", name="merchant")
async def merchant(
    merchant_id: MerchantId,
    console: Viewer,
    done: Annotated[str | None, Query(max_length=16, pattern=r"^[a-z_]+$")] = None,
) -> Response:
    console.audit.target("merchant", str(merchant_id))
    card = await console.run(console_merchants.card, merchant_id)
    if card is None:
        raise NotFound("no such merchant")
    role = console.session.role
    return console.page(
        "merchant.html",
        card=card,
        done=done,
        csrf=console.session.csrf,
        may_act=role != "viewer",
        may_admin=role == "admin",
    )


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
