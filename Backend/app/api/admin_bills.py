"""The admin API's list of bills an operator must look at:
`GET /api/v1/admin/bills/needing-operator`.

A bill's amount and fee stay held until the rail's confirmed answer ends it
(docs/bills.md); a bill whose answer was lost with nothing left to ask the rail, or one
held for over a day, is never released on a guess: it is listed here, with what the
rail knows of it, for an operator to settle with the biller. It only reads. Same
conventions as app/api/admin.py: ADMIN_TOKEN as a bearer token, `{"error", "detail"}`
failures, amounts in cents.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from fastapi import Query
from pydantic import BaseModel, Field

from app.api.admin_auth import AdminRuntime, admin_router
from app.domain.records.bills import BillPayment
from app.services.bills import payments as bill_payments

router = admin_router()


class StuckBillOut(BaseModel):
    reference: str
    biller: str = Field(description="the biller's code")
    rail: str
    account: str = Field(description="the meter, account or phone the bill is for")
    amount: int = Field(description="cents, held with the fee")
    fee: int
    status: str = Field(description="held | unknown")
    rail_request_id: str | None = Field(description="the rail's id for it, if it gave one")
    failure: str | None = Field(description="what made it unknown")
    next_check_at: datetime | None = Field(description="when the worker asks the rail next")
    created_at: datetime

    @classmethod
    def of(cls, bill: BillPayment) -> Self:
        return cls(
            reference=bill.reference,
            biller=bill.biller_code,
            rail=bill.rail,
            account=bill.account,
            amount=bill.amount,
            fee=bill.fee,
            status=bill.status,
            rail_request_id=bill.rail_request_id,
            failure=bill.failure,
            next_check_at=bill.check_after,
            created_at=bill.created_at,
        )


class StuckBillsOut(BaseModel):
    items: list[StuckBillOut]


@router.get("/bills/needing-operator", summary="Bills still held that need an operator")
async def bills_needing_operator(
    runtime: AdminRuntime,
    limit: Annotated[int, Query(ge=1, le=bill_payments.STUCK_PAGE_MAX)] = 50,
) -> StuckBillsOut:
    """Bills whose amount is still held and that the worker will not end by itself
    (unknown with nothing left to ask the rail), or held for over a day; oldest first.
    Read-only: nothing here moves money."""
    rows = await runtime.run(bill_payments.bills_needing_an_operator, limit)
    return StuckBillsOut(items=[StuckBillOut.of(row) for row in rows])
