"""The admin API's view of M-Pesa deposits and order payments held for an operator:
`GET /api/v1/admin/mpesa/held-deposits`, `GET /api/v1/admin/mpesa/held-order-payments`.

A callback is only a hint (docs/security.md): when M-Pesa's word and PayTrace's request
disagree (a "paid" callback without its metadata, another amount or phone, a query that
contradicts the callback) the deposit is `disputed` and credits nothing; when the push's
own answer was lost it is `unknown`. Both wait here for an operator, oldest first, with
the reason PayTrace stored. Same conventions as app/api/admin.py: ADMIN_TOKEN as a
bearer token, `{"error", "detail"}` failures, amounts in cents, every request audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from app.api.admin_auth import AdminRuntime, admin_router
from app.domain.records.mpesa import Deposit, OrderPayment
from app.services.mpesa import deposits, order_returns

router = admin_router()

EXAMPLE = {
    "reference": "K7QX2M9PLA",
    "phone": "+254712345678",
    "amount": 150000,
    "status": "disputed",
    "result_code": "0",
    "result_desc": "a paid callback without CallbackMetadata",
    "checkout_request_id": "ws_CO_29112026052450059712345678",
    "receipt": None,
    "query_errors": 0,
    "last_query_error": None,
    "created_at": "2026-11-29T05:24:49.112+00:00",
    "updated_at": "2026-11-29T05:24:51.219+00:00",
}


class HeldDepositOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    reference: str = Field(description="PayTrace's reference, the STK AccountReference")
    phone: str = Field(description="the payer's phone, E.164")
    amount: int = Field(description="cents asked for")
    status: Literal["disputed", "unknown"] = Field(
        description="disputed: M-Pesa's word and the request disagree; unknown: the"
        " push's answer was lost"
    )
    result_code: str | None
    result_desc: str | None = Field(description="why it is held, in PayTrace's words")
    checkout_request_id: str | None
    receipt: str | None = Field(description="the receipt a callback claimed, if any")
    query_errors: int = Field(description="STK queries answered with an HTTP error")
    last_query_error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, deposit: Deposit) -> Self:
        return cls(**{name: getattr(deposit, name) for name in cls.model_fields})


class HeldDepositsOut(BaseModel):
    items: list[HeldDepositOut]


@router.get("/mpesa/held-deposits", summary="M-Pesa deposits waiting for an operator")
async def held_deposits(
    runtime: AdminRuntime,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many")] = 100,
) -> HeldDepositsOut:
    """Deposits that credited nothing because M-Pesa's word could not be trusted as it
    came, oldest first. Read-only: an operator settles one with M-Pesa's own record
    (the reconciliation and the callback log show it) and a cash-in or nothing."""
    held = await runtime.run(deposits.held_deposits, limit=limit)
    return HeldDepositsOut(items=[HeldDepositOut.of(deposit) for deposit in held])


class HeldOrderPaymentOut(BaseModel):
    trans_id: str = Field(description="M-Pesa's receipt of the customer's paybill payment")
    bill_ref: str = Field(description="the account number the customer typed")
    amount: int = Field(description="cents M-Pesa took")
    msisdn: str | None = Field(description="the payer as M-Pesa gave it (may be masked)")
    status: Literal["returning", "review"] = Field(
        description="returning: owed back, its reversal with M-Pesa; review: an operator"
        " returns it by hand (result_desc says why)"
    )
    order_id: int | None
    result_desc: str | None
    owed_transaction_id: int | None = Field(description="the journal's owed-back movement")
    reversal_originator_id: str | None
    received_at: datetime

    @classmethod
    def of(cls, payment: OrderPayment) -> Self:
        return cls(**{name: getattr(payment, name) for name in cls.model_fields})


class HeldOrderPaymentsOut(BaseModel):
    items: list[HeldOrderPaymentOut]


@router.get(
    "/mpesa/held-order-payments", summary="M-Pesa payments to orders waiting for an operator"
)
async def held_order_payments(
    runtime: AdminRuntime,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many")] = 100,
) -> HeldOrderPaymentsOut:
    """Paybill payments an order could not take, being returned or needing an operator,
    oldest first. Read-only."""
    held = await runtime.run(order_returns.held_order_payments, limit=limit)
    return HeldOrderPaymentsOut(items=[HeldOrderPaymentOut.of(p) for p in held])
