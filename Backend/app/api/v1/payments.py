"""Pay a merchant's till over REST: the same service, limits, PIN lock and SMS as USSD's
*5. Pay* (docs/merchants.md).

`POST /api/v1/payments` needs an `Idempotency-Key` header: the same key with the same
body answers the original payment again (and moves nothing, `Idempotent-Replayed:
true`); the same key with another body is refused (409). The PIN confirms every
payment; a retry with the same PIN counts as one attempt, a corrected PIN as a new one.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from app.api.v1.context import Api, CurrentUser
from app.api.v1.models import Pin, Strict
from app.api.v1.responses import COMMON, SIGNED_IN, errors
from app.api.v1.transfers import IdempotencyKey
from app.domain.merchants import TILL_PATTERN
from app.services.keys import keyed_digest
from app.services.merchant_payments import payments as merchant_payments
from app.services.transfers import MAX_TRANSFER

# The bodies live beside their routes: a new field of a payment (a pay order's code)
# touches the service and this module alone on the REST side.
TILL = f"^{TILL_PATTERN.pattern}$"
Till = Annotated[StrictStr, Field(pattern=TILL, description="5 to 7 digits", examples=["512345"])]


class PaymentIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"till": "512345", "amount": 25000, "pin": "4821"}]},
    )

    till: Till
    amount: StrictInt = Field(gt=0, le=MAX_TRANSFER, description="cents (25000 = KES 250)")
    pin: Pin = Field(description="the payer's PIN: every money-out is confirmed with it")


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
    amount: int
    fee: int = Field(description="the payer's fee in cents: 0")
    total: int = Field(description="what leaves the wallet, in cents")
    balance: int = Field(description="the payer's balance now, in cents")


log = logging.getLogger("paytrace.api")

router = APIRouter(prefix="/api/v1/payments", tags=["payments"], responses={**COMMON, **SIGNED_IN})


@router.get(
    "/quote",
    summary="Check a payment to a till before the PIN: the merchant's name and the fee",
    responses=errors(404),
)
async def quote(
    api: Api,
    caller: CurrentUser,
    till: Annotated[str, Query(pattern=TILL, examples=["512345"])],
    amount: Annotated[int, Query(gt=0, le=MAX_TRANSFER, description="cents")],
) -> PaymentQuoteOut:
    """What USSD shows on its confirmation screen: the merchant's display name, the fee
    (0: the merchant pays its own) and the total. Nothing moves; limits and balance are
    checked. Errors: `merchant_not_found` (404), `merchant_unavailable`,
    `limit_exceeded`, `insufficient_funds` (422)."""
    priced = await api.services.quote_merchant_payment(
        payer_user_id=caller.user_id, till=till, amount=amount
    )
    return PaymentQuoteOut(
        till=priced.till,
        merchant_name=priced.display_name,
        amount=priced.amount,
        fee=priced.payer_fee,
        total=priced.total,
        balance=priced.balance,
    )


@router.post(
    "",
    summary="Pay a merchant's till",
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
    """Move `amount` cents from the caller's wallet to the merchant at `till`. The payer
    and the merchant get an SMS. Errors: `wrong_pin` (401, with attempts left),
    `pin_locked` (403), `merchant_not_found` (404), `idempotency_key_reused` (409),
    `merchant_unavailable` / `insufficient_funds` / `limit_exceeded` (422)."""
    request = merchant_payments.MerchantPaymentRequest(
        payer_user_id=caller.user_id,
        till=body.till,
        amount=body.amount,
        idempotency_key=f"api:{idempotency_key}",
        channel="api",
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
    )
