"""Pay a merchant's till, or one of its pay orders by code, over REST: the same service,
limits, PIN lock and SMS as USSD's *5. Pay* (docs/merchants.md).

A payment names exactly one of `till` (with an `amount`) and `order_code` (the order's
amount; an `amount`, if sent, must be exactly it): anything else is 422.

`POST /api/v1/payments` needs an `Idempotency-Key` header: the same key with the same
body answers the original payment again (and moves nothing, `Idempotent-Replayed:
true`); the same key with another body is refused (409). The PIN confirms every
payment; a retry with the same PIN counts as one attempt, a corrected PIN as a new one.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Self

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from app.api.v1.context import Api, CurrentUser
from app.api.v1.models import Pin, Strict
from app.api.v1.responses import COMMON, SIGNED_IN, errors
from app.api.v1.transfers import IdempotencyKey
from app.domain.merchants import TILL_PATTERN
from app.domain.pay_orders import CODE_PATTERN
from app.errors import refused
from app.services.keys import keyed_digest
from app.services.merchant_payments import payments as merchant_payments
from app.services.transfers import MAX_TRANSFER

# The bodies live beside their routes: a new field of a payment (a pay order's code)
# touches the service and this module alone on the REST side.
TILL = f"^{TILL_PATTERN.pattern}$"
Till = Annotated[StrictStr, Field(pattern=TILL, description="5 to 7 digits", examples=["512345"])]
ORDER_CODE = f"^{CODE_PATTERN.pattern}$"
OrderCode = Annotated[
    StrictStr,
    Field(
        pattern=ORDER_CODE,
        description="a pay order's code: 8 digits, the last a Luhn check digit",
        examples=["48291306"],
    ),
]


class PaymentIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"till": "512345", "amount": 25000, "pin": "4821"},
                {"order_code": "48291306", "pin": "4821"},
            ]
        },
    )

    till: Till | None = None
    order_code: OrderCode | None = Field(
        default=None, description="pay this order (instead of a till): its amount, its merchant"
    )
    amount: StrictInt | None = Field(
        default=None,
        gt=0,
        le=MAX_TRANSFER,
        description="cents (25000 = KES 250); required with `till`; with `order_code`,"
        " optional and exactly the order's",
    )
    pin: Pin = Field(description="the payer's PIN: every money-out is confirmed with it")

    @model_validator(mode="after")
    def _one_payee(self) -> Self:
        if (self.till is None) == (self.order_code is None):
            raise ValueError("name exactly one of till and order_code")
        if self.till is not None and self.amount is None:
            raise ValueError("amount is required with till")
        return self


class PaymentOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "K7QX2M9PLA",
                    "till": "512345",
                    "merchant_name": "MAMA MBOGA",
                    "amount": 25000,
                    "fee": 0,
                    "balance": 75000,
                    "created_at": "2026-11-28T16:45:29Z",
                }
            ]
        }
    )

    id: str = Field(description="PayTrace's reference, as in the SMS", examples=["K7QX2M9PLA"])
    till: str
    merchant_name: str = Field(description="the merchant's display name")
    amount: int = Field(description="cents")
    fee: int = Field(description="the payer's fee in cents: 0, the merchant pays its own")
    balance: int = Field(description="the payer's balance right after, in cents")
    created_at: datetime
    order_code: str | None = Field(default=None, description="the pay order paid, if any")
    description: str | None = Field(default=None, description="the order's description")


class PaymentQuoteOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "till": "512345",
                    "merchant_name": "MAMA MBOGA",
                    "amount": 25000,
                    "fee": 0,
                    "total": 25000,
                    "balance": 100000,
                }
            ]
        }
    )

    till: str
    merchant_name: str = Field(description="show it before the PIN")
    amount: int = Field(description="cents: the one asked, or the order's")
    fee: int = Field(description="the payer's fee in cents: 0")
    total: int = Field(description="what leaves the wallet, in cents")
    balance: int = Field(description="the payer's balance now, in cents")
    order_code: str | None = Field(default=None, description="the pay order quoted, if any")
    description: str | None = Field(default=None, description="the order's description")


log = logging.getLogger("paytrace.api")

router = APIRouter(prefix="/api/v1/payments", tags=["payments"], responses={**COMMON, **SIGNED_IN})


@router.get(
    "/quote",
    summary="Check a payment to a till or a pay order before the PIN: the merchant's name,"
    " the amount and the fee",
    responses=errors(404, 409),
)
async def quote(
    api: Api,
    caller: CurrentUser,
    till: Annotated[str | None, Query(pattern=TILL, examples=["512345"])] = None,
    order_code: Annotated[str | None, Query(pattern=ORDER_CODE, examples=["48291306"])] = None,
    amount: Annotated[
        int | None, Query(gt=0, le=MAX_TRANSFER, description="cents; required with till")
    ] = None,
) -> PaymentQuoteOut:
    """What USSD shows on its confirmation screen: the merchant's display name, the
    amount (an order's own), its description, the fee (0: the merchant pays its own) and
    the total. Exactly one of `till` (with `amount`) and `order_code`. Nothing moves;
    limits and balance are checked. Errors: `validation_failed`, `invalid_order_code`,
    `wrong_amount` (422), `merchant_not_found`, `order_not_found` (404), `order_paid`,
    `order_expired`, `order_canceled` (409), `merchant_unavailable`, `limit_exceeded`,
    `insufficient_funds` (422)."""
    if (till is None) == (order_code is None):
        raise refused("validation_failed", "name exactly one of till and order_code")
    if till is not None and amount is None:
        raise refused("validation_failed", "amount is required with till")
    priced = await api.services.quote_merchant_payment(
        payer_user_id=caller.user_id, till=till, amount=amount, order_code=order_code
    )
    return PaymentQuoteOut(
        till=priced.till,
        merchant_name=priced.display_name,
        amount=priced.amount,
        fee=priced.payer_fee,
        total=priced.total,
        balance=priced.balance,
        order_code=priced.order_code,
        description=priced.description,
    )


@router.post(
    "",
    summary="Pay a merchant's till or one of its pay orders",
    status_code=status.HTTP_201_CREATED,
    responses={
        **errors(403, 404, 409),
        201: {
            "description": "paid; a replay of an earlier request with the same key and body"
            " answers the same, with `Idempotent-Replayed: true`"
        },
    },
)
async def pay(
    body: PaymentIn,
    response: Response,
    api: Api,
    caller: CurrentUser,
    idempotency_key: IdempotencyKey,
) -> PaymentOut:
    """Move `amount` cents from the caller's wallet to the merchant at `till`, or pay the
    order `order_code` (its amount, to its merchant; it is then `paid`). The payer and
    the merchant get an SMS. Errors: `wrong_pin` (401, with attempts left), `pin_locked`
    (403), `merchant_not_found`, `order_not_found` (404), `idempotency_key_reused`,
    `order_paid` (somebody paid it first: nothing moved for you), `order_expired`,
    `order_canceled` (409), `validation_failed` (both or neither of till and order_code),
    `invalid_order_code`, `wrong_amount`, `merchant_unavailable`, `insufficient_funds`,
    `limit_exceeded` (422)."""
    request = merchant_payments.MerchantPaymentRequest(
        payer_user_id=caller.user_id,
        till=body.till,
        amount=body.amount,
        idempotency_key=f"api:{idempotency_key}",
        channel="api",
        order_code=body.order_code,
    )
    # As Send money: the PIN's keyed digest in the attempt key, never the PIN itself.
    pin_digest = keyed_digest(api.attempt_key, idempotency_key, body.pin)
    attempt_key = f"api-pay:{caller.user_id}:{idempotency_key}:{pin_digest}"
    paid = await api.services.pay_merchant(request, pin=body.pin, attempt_key=attempt_key)
    if paid.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        log.info(
            "api merchant payment",
            extra={"transaction_id": paid.transaction_id, "amount": paid.amount},
        )
    return PaymentOut(
        id=paid.reference,
        till=paid.till,
        merchant_name=paid.display_name,
        amount=paid.amount,
        fee=paid.payer_fee,
        balance=paid.balance,
        created_at=paid.created_at,
        order_code=paid.order_code,
        description=paid.order_description,
    )
