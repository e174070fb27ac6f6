"""Pay orders on the merchant API: create, get, list, cancel, and an M-Pesa push for one
(docs/merchants.md).

Every answer is the order's snapshot (app/domain/records/pay_orders.py): the same JSON
whether it is made now or replayed for an Idempotency-Key, so a retry reads exactly
what the first request was answered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StrictStr

from app.api.admin_models import ErrorOut, PrintableStr
from app.api.cursors import MAX_ID, decode_cursor, encode_cursor
from app.api.merchant import me
from app.api.merchant.auth import SignedMerchant
from app.api.merchant.idempotency import MerchantIdempotencyKey
from app.api.v1.context import Api
from app.domain import pay_orders as rules
from app.domain.records.pay_orders import OrderFilter, snapshot
from app.errors import refused
from app.services import orders, stellar_order_links
from app.services.merchant_idempotency import Answer
from app.services.mpesa import order_pushes

_CURSOR = "o"  # the orders list's cursors

# Beside /me: the same prefix and the answers every signed route can give.
router = APIRouter(prefix=me.router.prefix, tags=["merchant"], responses=me.router.responses)

EXAMPLE = {
    "id": 42,
    "code": "48213575",
    "amount": 25000,
    "currency": "KES",
    "merchant_reference": "INV-2026-0042",
    "description": "Sukuma wiki and tomatoes",
    "status": "awaiting_payment",
    "created_at": "2026-12-04T15:20:40.123456+00:00",
    "expires_at": "2026-12-04T15:35:40.123456+00:00",
    "paid_at": None,
    "expired_at": None,
    "canceled_at": None,
    "paid_amount": None,
    "refunded_amount": 0,
    "payment_transaction_id": None,
    "partially_refunded_at": None,
    "refunded_at": None,
    "stellar": {
        "destination": "GBTREASURYXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "memo_type": "text",
        "memo": "48213575",
        "muxed_destination": "MBTREASURY...AAAAAAAAAAABKAAAA",
        "asset_code": "KES",
        "asset_issuer": "GBISSUERXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "amount": "250.00",
        "uri": "web+stellar:pay?destination=GBTREASURY...&amount=250.00&asset_code=KES"
        "&asset_issuer=GBISSUER...&memo=48213575&memo_type=MEMO_TEXT"
        "&msg=PayTrace%20order%2048213575%3A%20Sukuma%20wiki%20and%20tomatoes",
    },
}


class OrderIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "amount": 25000,
                    "merchant_reference": "INV-2026-0042",
                    "description": "Sukuma wiki and tomatoes",
                    "expires_in_minutes": 15,
                }
            ]
        },
    )

    amount: StrictInt = Field(gt=0, le=rules.MAX_AMOUNT, description="cents (25000 = KES 250)")
    merchant_reference: PrintableStr | None = Field(
        default=None, min_length=1, max_length=rules.REFERENCE_MAX, description="yours, kept as is"
    )
    description: StrictStr | None = Field(
        default=None,
        min_length=1,
        max_length=rules.DESCRIPTION_MAX,
        description="shown to the payer: GSM-7 letters, digits and punctuation",
    )
    expires_in_minutes: StrictInt = Field(
        default=rules.EXPIRY_DEFAULT_MINUTES,
        ge=rules.EXPIRY_MIN_MINUTES,
        le=rules.EXPIRY_MAX_MINUTES,
        description="time to pay",
    )


class StellarPayOut(BaseModel):
    destination: str = Field(description="the treasury's address (G...): pay it with the memo")
    memo_type: str = Field(description="text")
    memo: str = Field(description="the order's code: the memo that names the order")
    muxed_destination: str = Field(
        description="or pay this muxed address (M..., SEP-23; its id is the order's), no memo"
    )
    asset_code: str = Field(description="PayTrace's KES")
    asset_issuer: str
    amount: str = Field(description="KES, exactly the order's: anything else is owed back")
    uri: str = Field(description="the same as a SEP-7 `web+stellar:pay` link (for a QR code)")


class OrderOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    id: int
    code: str = Field(description="what the payer types: 8 digits, the last a check digit")
    amount: int = Field(description="cents")
    currency: str
    merchant_reference: str | None
    description: str | None
    status: str = Field(
        description="awaiting_payment | paid | expired | canceled | refunded | partially_refunded"
    )
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    expired_at: datetime | None
    canceled_at: datetime | None
    paid_amount: int | None = Field(description="cents; the amount, exactly, once paid")
    refunded_amount: int = Field(description="cents")
    payment_transaction_id: int | None
    partially_refunded_at: datetime | None = Field(description="its first partial refund")
    refunded_at: datetime | None = Field(description="refunded in full")
    stellar: StellarPayOut | None = Field(
        description="how to pay it from any Stellar wallet; null without a Stellar network"
    )


class OrderPageOut(BaseModel):
    orders: list[OrderOut]
    next_cursor: str | None = Field(description="pass back as `cursor` while not null")


def _error(description: str) -> dict[str, object]:
    return {"model": ErrorOut, "description": description}


_INVALID = {422: _error("the request is malformed or breaks a rule (the `error` code says which)")}
_WRITE = {
    400: _error("`idempotency_key_required`: every POST needs an Idempotency-Key header"),
    409: _error("`idempotency_key_reused`: the key was used for another request"),
    **_INVALID,
}
_NOT_FOUND = {404: _error("`order_not_found`: no such order of this merchant")}
OrderId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _utc(moment: datetime | None, name: str) -> datetime | None:
    """The moment in UTC: PostgreSQL takes no offset beyond ±15:59 (Python's reach
    ±23:59), and a moment at the calendar's very edge has no UTC of its own."""
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise refused("invalid_date", f"{name}: out of range") from None


def _shown(api: Api, body: dict) -> dict:
    """The order's snapshot with how to pay it on Stellar (made at each answer from the
    order's id, code and amount: a replayed answer shows it too)."""
    return {**body, "stellar": stellar_order_links.pay_details(api.stellar_payee, body)}


def _answer(api: Api, answer: Answer) -> JSONResponse:
    """An order's answer, with how to pay it on Stellar."""
    return _plain(Answer(answer.status, _shown(api, answer.body), answer.replayed))


def _plain(answer: Answer) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


@router.post(
    "/orders",
    summary="Create a pay order",
    status_code=status.HTTP_201_CREATED,
    response_model=None,
    responses={201: {"model": OrderOut, "description": "the order and its code"}, **_WRITE},
)
async def create_order(
    body: OrderIn, api: Api, caller: SignedMerchant, key: MerchantIdempotencyKey
) -> JSONResponse:
    """An order of `amount` cents awaiting payment for `expires_in_minutes` (1 to 1,440,
    15 by default), with the code a payer types. Errors: `invalid_amount`,
    `invalid_description`, `invalid_reference`, `invalid_expiry`, `validation_failed`
    (422); `idempotency_key_required` (400), `idempotency_key_reused` (409)."""
    draft = orders.Draft(
        amount=body.amount,
        merchant_reference=body.merchant_reference,
        description=body.description,
        expires_in_minutes=body.expires_in_minutes,
    )
    answer = await api.services.run(
        orders.create, caller.merchant_id, key, draft, datetime.now(UTC)
    )
    return _answer(api, answer)


@router.get(
    "/orders/{order_id}",
    summary="One of the merchant's pay orders",
    response_model=None,
    responses={200: {"model": OrderOut}, **_NOT_FOUND, **_INVALID},
)
async def get_order(order_id: OrderId, api: Api, caller: SignedMerchant) -> JSONResponse:
    """The order as it is now: one past its time is `expired`, whether or not the worker
    has written it yet. Another merchant's order is 404, as if absent."""
    order = await api.services.run(orders.get, caller.merchant_id, order_id, datetime.now(UTC))
    return JSONResponse(_shown(api, snapshot(order)))


@router.get(
    "/orders",
    summary="The merchant's pay orders, newest first",
    response_model=None,
    responses={200: {"model": OrderPageOut}, **_INVALID},
)
async def list_orders(
    api: Api,
    caller: SignedMerchant,
    order_status: Annotated[
        str | None, Query(alias="status", max_length=20, description=" | ".join(rules.STATUSES))
    ] = None,
    created_from: Annotated[AwareDatetime | None, Query(description="inclusive")] = None,
    created_to: Annotated[AwareDatetime | None, Query(description="exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=orders.PAGE_MAX)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=40, description="`next_cursor` of the previous page")
    ] = None,
) -> JSONResponse:
    """Cursor-paginated: pass `next_cursor` back as `cursor` (with the same filters) until
    it is null. `status` is as shown: an order past its time counts as `expired`.
    Errors: `invalid_status`, `invalid_cursor`, `invalid_date`, `validation_failed` (a
    date without its time zone) (422)."""
    where = OrderFilter(
        status=order_status,
        created_from=_utc(created_from, "created_from"),
        created_to=_utc(created_to, "created_to"),
        before_id=decode_cursor(_CURSOR, cursor),
    )
    rows, more = await api.services.run(
        orders.page, caller.merchant_id, where, limit=limit, now=datetime.now(UTC)
    )
    return JSONResponse(
        {
            "orders": [_shown(api, snapshot(row)) for row in rows],
            "next_cursor": encode_cursor(_CURSOR, rows[-1].id) if more and rows else None,
        }
    )


@router.post(
    "/orders/{order_id}/cancel",
    summary="Cancel a pay order awaiting payment",
    response_model=None,
    responses={
        200: {"model": OrderOut, "description": "canceled (again: the same)"},
        **_NOT_FOUND,
        **_WRITE,
        409: _error("`order_not_cancelable`: paid, expired or refunded; `idempotency_key_reused`"),
    },
)
async def cancel_order(
    order_id: OrderId, api: Api, caller: SignedMerchant, key: MerchantIdempotencyKey
) -> JSONResponse:
    """Only an order awaiting payment can be canceled; a canceled one answers as it is.
    Errors: `order_not_found` (404), `order_not_cancelable` (409), `idempotency_key_required`
    (400), `idempotency_key_reused` (409)."""
    answer = await api.services.run(
        orders.cancel, caller.merchant_id, order_id, key, datetime.now(UTC)
    )
    return _answer(api, answer)


class MpesaPushIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"phone": "0712345678"}]}
    )

    phone: StrictStr = Field(
        min_length=1, max_length=32, description="the customer's M-Pesa number"
    )


class MpesaPushOut(BaseModel):
    object: str = Field(description="mpesa_push")
    id: int
    order_id: int
    phone: str = Field(description="E.164")
    amount: int = Field(description="cents: the order's")
    status: str = Field(description="requested (the prompt is on its way)")
    created_at: datetime


@router.post(
    "/orders/{order_id}/mpesa-push",
    summary="Prompt a customer's phone to pay the order from M-Pesa (STK push)",
    response_model=None,
    responses={
        202: {"model": MpesaPushOut, "description": "the prompt is on its way"},
        **_NOT_FOUND,
        **_WRITE,
        409: _error("`order_paid`, `order_expired`, `order_canceled`; `idempotency_key_reused`"),
    },
)
async def mpesa_push(
    order_id: OrderId,
    body: MpesaPushIn,
    api: Api,
    caller: SignedMerchant,
    key: MerchantIdempotencyKey,
) -> JSONResponse:
    """An STK push for the order's exact amount, its code as account reference. The order
    is paid once M-Pesa confirms the customer's payment (`order.paid`); paid meanwhile
    another way, the customer's payment is returned to them. Errors: `invalid_phone`,
    `invalid_amount` (an order with cents) (422), `order_not_found` (404), `order_paid`,
    `order_expired`, `order_canceled` (409)."""
    answer = await api.services.run(
        order_pushes.start, caller.merchant_id, order_id, body.phone, key, datetime.now(UTC)
    )
    return _plain(answer)
