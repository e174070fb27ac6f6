"""Refunds on the merchant API: refund (part of) a payment to the till, read a refund
(docs/merchants.md). Every answer is the refund's snapshot, the same whether made now or
replayed for an Idempotency-Key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from app.api.admin_models import ErrorOut
from app.api.merchant import me
from app.api.merchant.auth import SignedMerchant
from app.api.merchant.idempotency import MerchantIdempotencyKey
from app.api.v1.context import Api
from app.services import merchant_refunds
from app.services.merchant_refunds import REASON_MAX

router = APIRouter(prefix=me.router.prefix, tags=["merchant"], responses=me.router.responses)

EXAMPLE = {
    "id": "re_3f9a0c1d2e4b5a6978c0d1e2",
    "payment": "K7QX2M9PLA",
    "amount": 10000,
    "reason": "one item out of stock",
    "status": "succeeded",
    "refund_reference": "M2PQ8XKD4T",
    "failure_reason": None,
    "created_at": "2026-12-04T16:02:11.402113+00:00",
    "succeeded_at": "2026-12-04T16:02:11.402113+00:00",
    "failed_at": None,
}


class RefundIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"payment": "K7QX2M9PLA", "amount": 10000, "reason": "out of stock"}]
        },
    )

    payment: StrictStr = Field(
        min_length=1, max_length=32, description="the payment's reference, as in its SMS"
    )
    amount: StrictInt | None = Field(
        default=None, description="cents; left out: all that is left of the payment"
    )
    reason: StrictStr | None = Field(default=None, max_length=REASON_MAX)


class RefundOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    id: str
    payment: str
    amount: int = Field(description="cents")
    reason: str | None
    status: str = Field(description="pending | succeeded | failed")
    refund_reference: str | None = Field(description="the refund's own journal reference")
    failure_reason: str | None
    created_at: datetime
    succeeded_at: datetime | None
    failed_at: datetime | None


def _error(description: str) -> dict[str, object]:
    return {"model": ErrorOut, "description": description}


RefundId = Annotated[str, Path(min_length=1, max_length=40)]


@router.post(
    "/refunds",
    summary="Refund (part of) a payment to the till",
    status_code=status.HTTP_201_CREATED,
    response_model=None,
    responses={
        201: {
            "model": RefundOut,
            "description": "the refund: succeeded (to a wallet), or pending (through M-Pesa)",
        },
        400: _error("`idempotency_key_required`"),
        404: _error("`payment_not_found`: no payment to this merchant has this reference"),
        409: _error(
            "`payment_fully_refunded`, `exceeds_refundable`, `insufficient_merchant_balance`,"
            " `refund_through_rail_unavailable` (M-Pesa gave no phone to pay back),"
            " `idempotency_key_reused`"
        ),
        422: _error(
            "`invalid_amount` (through M-Pesa: whole shillings, KES 10 at least),"
            " `invalid_payment`, `invalid_reason`, `not_an_mpesa_number`, `validation_failed`"
        ),
    },
)
async def create_refund(
    body: RefundIn, api: Api, caller: SignedMerchant, key: MerchantIdempotencyKey
) -> JSONResponse:
    """Moves `amount` cents (all that is left when left out) from the merchant's account
    back to the payer's wallet at once, with an SMS to the payer; a pay order paid from
    M-Pesa is paid back to the payer's phone (B2C): `pending` until M-Pesa answers,
    then `refund.succeeded` or `refund.failed`, its M-Pesa fee charged to the merchant.
    Never more than was paid, counting earlier refunds (pending ones too); the
    merchant's fee on the payment is not returned; the merchant's account is never
    taken below zero."""
    ask = merchant_refunds.RefundAsk(body.payment, body.amount, body.reason)
    answer = await api.services.run(
        merchant_refunds.refund,
        caller.merchant_id,
        key,
        ask,
        datetime.now(UTC),
        result_wait_s=api.services.settings.mpesa_result_wait_s,
    )
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


@router.get(
    "/refunds/{refund_id}",
    summary="One of the merchant's refunds",
    response_model=None,
    responses={
        200: {"model": RefundOut},
        404: _error("`refund_not_found`: no such refund of this merchant"),
        422: _error("`validation_failed`: the id is too long"),
    },
)
async def get_refund(refund_id: RefundId, api: Api, caller: SignedMerchant) -> JSONResponse:
    """Another merchant's refund is 404, as if absent."""
    found = await api.services.run(merchant_refunds.get, caller.merchant_id, refund_id)
    return JSONResponse(merchant_refunds.snapshot(found))
