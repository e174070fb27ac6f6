"""Requests to pay on the merchant API: ask a PayTrace user, by phone, to pay one of the
merchant's orders, and see what became of it (docs/merchants.md, "Request to pay").

After the request is committed, the route flags the payer's phone in Redis so that
their next dial opens on it (app/ussd/session_store.py). The flag is a hint set after
the commit, not part of it: if Redis is down at that moment the request stands and its
SMS goes out, the payer can still pay the order by its code, and a retry of the POST
(same Idempotency-Key) sets the flag again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from redis.exceptions import RedisError

from app.api.admin_models import ErrorOut
from app.api.merchant import me
from app.api.merchant.auth import SignedMerchant
from app.api.merchant.idempotency import MerchantIdempotencyKey
from app.api.merchant.orders import OrderId
from app.api.v1.context import Api
from app.domain.records.pay_requests import STATUSES, snapshot
from app.services import pay_requests

log = logging.getLogger("paytrace.api")

router = APIRouter(prefix=me.router.prefix, tags=["merchant"], responses=me.router.responses)

EXAMPLE = {
    "id": 7,
    "order_id": 42,
    "phone": "+254712345678",
    "status": "pending",
    "created_at": "2026-12-04T15:20:41.000000+00:00",
    "expires_at": "2026-12-04T15:35:40.123456+00:00",
    "approved_at": None,
    "declined_at": None,
    "expired_at": None,
    "canceled_at": None,
}


class PayRequestIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"phone": "0712345678"}]}
    )

    phone: StrictStr = Field(
        min_length=1, max_length=32, description="the payer's phone: a PayTrace user"
    )


class PayRequestOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    id: int
    order_id: int
    phone: str = Field(description="E.164")
    status: str = Field(description=" | ".join(STATUSES))
    created_at: datetime
    expires_at: datetime = Field(description="the order's: the request expires with it")
    approved_at: datetime | None = Field(description="its payer paid the order")
    declined_at: datetime | None
    expired_at: datetime | None
    canceled_at: datetime | None = Field(description="the order was canceled or paid otherwise")


class PayRequestListOut(BaseModel):
    requests: list[PayRequestOut] = Field(description="newest first")


def _error(description: str) -> dict[str, object]:
    return {"model": ErrorOut, "description": description}


@router.post(
    "/orders/{order_id}/requests",
    summary="Ask a PayTrace user to pay a pay order",
    status_code=status.HTTP_201_CREATED,
    response_model=None,
    responses={
        201: {"model": PayRequestOut, "description": "the request, pending; the payer is told"},
        400: _error("`idempotency_key_required`"),
        404: _error("`order_not_found`"),
        409: _error(
            "`order_paid`, `order_expired`, `order_canceled`, `order_already_requested`,"
            " `idempotency_key_reused`"
        ),
        422: _error("`invalid_phone`, `payer_not_registered`, `validation_failed`"),
    },
)
async def ask_to_pay(
    order_id: OrderId,
    body: PayRequestIn,
    api: Api,
    caller: SignedMerchant,
    key: MerchantIdempotencyKey,
) -> JSONResponse:
    """The user at `phone` gets an SMS, and their next dial of PayTrace opens on the
    request (pay with their PIN, or decline) until the order is paid, canceled or
    expires. One pending request per order. A phone that is no PayTrace user is
    `422 payer_not_registered`: give them the order's code instead."""
    answer = await api.services.run(
        pay_requests.ask,
        caller.merchant_id,
        order_id,
        key,
        body.phone,
        datetime.now(UTC),
        shortcode=api.services.shortcode,
    )
    try:
        await api.flag_pay_request(str(answer.body["phone"]))
    except RedisError:
        log.warning("pay request flag not set", extra={"request": answer.body["id"]})
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


@router.get(
    "/orders/{order_id}/requests",
    summary="A pay order's requests to pay",
    response_model=None,
    responses={
        200: {"model": PayRequestListOut},
        404: _error("`order_not_found`"),
        422: _error("`validation_failed`: the order id is not one"),
    },
)
async def order_requests(order_id: OrderId, api: Api, caller: SignedMerchant) -> JSONResponse:
    """Newest first, as they are now: a pending one past the order's time is `expired`."""
    found = await api.services.run(
        pay_requests.for_order, caller.merchant_id, order_id, datetime.now(UTC)
    )
    return JSONResponse({"requests": [snapshot(request) for request in found]})
