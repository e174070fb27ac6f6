"""Payouts on the merchant API: pay the merchant's balance out to its M-Pesa, read one,
list them (docs/merchants.md). Every answer is the payout's snapshot, the same whether
made now or replayed for an Idempotency-Key; its status moves from pending to paid or
failed only on M-Pesa's confirmed word."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.api.admin_models import ErrorOut
from app.api.cursors import decode_cursor, encode_cursor
from app.api.merchant import me
from app.api.merchant.auth import SignedMerchant
from app.api.merchant.idempotency import MerchantIdempotencyKey
from app.api.v1.context import Api
from app.services.mpesa import merchant_payouts

_CURSOR = "po"  # the payouts list's cursors

router = APIRouter(prefix=me.router.prefix, tags=["merchant"], responses=me.router.responses)

EXAMPLE = {
    "object": "payout",
    "id": "po_3f9a0c1d2e4b5a6978c0d1e2",
    "amount": 500000,
    "fee": 3500,
    "currency": "KES",
    "phone": "+254711000102",
    "status": "pending",
    "origin": "request",
    "payout_day": None,
    "reference": "M2PQ8XKD4T",
    "mpesa_receipt": None,
    "failure_reason": None,
    "created_at": "2026-12-04T16:02:11.402113+00:00",
    "updated_at": "2026-12-04T16:02:11.402113+00:00",
}


class PayoutIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": 500000}, {"amount": "all"}]}
    )

    amount: StrictInt | Literal["all"] = Field(
        description="cents, whole shillings (KES 10 to 250,000); `all`: all that is"
        " available, less the payout's fee"
    )


class PayoutOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    object: str
    id: str
    amount: int = Field(description="cents M-Pesa pays")
    fee: int = Field(description="cents the merchant's account pays for the payout")
    currency: str
    phone: str = Field(description="the merchant's payout phone, E.164")
    status: str = Field(description="pending | paid | failed (the amount and fee back)")
    origin: str = Field(description="request | admin | daily")
    payout_day: str | None = Field(description="the East Africa day of a daily payout")
    reference: str = Field(description="the hold's journal reference")
    mpesa_receipt: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime


class PayoutPageOut(BaseModel):
    payouts: list[PayoutOut]
    next_cursor: str | None = Field(description="pass back as `cursor` while not null")


def _error(description: str) -> dict[str, object]:
    return {"model": ErrorOut, "description": description}


PayoutId = Annotated[str, Path(min_length=1, max_length=40)]


@router.post(
    "/payouts",
    summary="Pay the merchant's balance out to its M-Pesa",
    status_code=status.HTTP_201_CREATED,
    response_model=None,
    responses={
        201: {"model": PayoutOut, "description": "the payout, pending"},
        400: _error("`idempotency_key_required`"),
        409: _error(
            "`insufficient_merchant_balance`, `nothing_to_pay_out`, `idempotency_key_reused`"
        ),
        422: _error("`invalid_amount`, `not_an_mpesa_number`, `validation_failed`"),
    },
)
async def create_payout(
    body: PayoutIn, api: Api, caller: SignedMerchant, key: MerchantIdempotencyKey
) -> JSONResponse:
    """Holds `amount` and the payout's fee in the merchant's account at once (never below
    zero) and asks M-Pesa to pay `amount` to the merchant's payout phone. The payout is
    `paid` once M-Pesa confirms it (SMS to the contact phone, event `payout.paid`), or
    `failed` with the amount and fee back in the account (event `payout.failed`)."""
    amount = None if body.amount == "all" else body.amount
    answer = await api.services.run(
        merchant_payouts.request_payout,
        caller.merchant_id,
        key,
        amount,
        result_wait_s=api.services.settings.mpesa_result_wait_s,
        now=datetime.now(UTC),
    )
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


@router.get(
    "/payouts/{payout_id}",
    summary="One of the merchant's payouts",
    response_model=None,
    responses={
        200: {"model": PayoutOut},
        404: _error("`payout_not_found`: no such payout of this merchant"),
        422: _error("`validation_failed`: the id is too long"),
    },
)
async def get_payout(payout_id: PayoutId, api: Api, caller: SignedMerchant) -> JSONResponse:
    """Another merchant's payout is 404, as if absent."""
    found = await api.services.run(merchant_payouts.get, caller.merchant_id, payout_id)
    return JSONResponse(merchant_payouts.snapshot(found))


@router.get(
    "/payouts",
    summary="The merchant's payouts, newest first",
    response_model=None,
    responses={
        200: {"model": PayoutPageOut},
        422: _error("`invalid_cursor`, `validation_failed`"),
    },
)
async def list_payouts(
    api: Api,
    caller: SignedMerchant,
    limit: Annotated[int, Query(ge=1, le=merchant_payouts.PAGE_MAX)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=40, description="`next_cursor` of the previous page")
    ] = None,
) -> JSONResponse:
    """Cursor-paginated: pass `next_cursor` back as `cursor` until it is null."""
    rows, more = await api.services.run(
        merchant_payouts.page,
        caller.merchant_id,
        limit=limit,
        before_id=decode_cursor(_CURSOR, cursor),
    )
    return JSONResponse(
        {
            "payouts": [merchant_payouts.snapshot(row) for row in rows],
            "next_cursor": encode_cursor(_CURSOR, rows[-1].id) if more and rows else None,
        }
    )
