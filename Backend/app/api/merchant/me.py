"""The signed-in merchant: GET /api/v1/merchant/me (profile and balance)."""

from __future__ import annotations

from typing import Self

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.api.admin_models import ErrorOut
from app.api.merchant.auth import SignedMerchant
from app.api.v1.context import Api
from app.domain.records.merchants import MerchantRow
from app.errors import InvalidSignature
from app.services import merchants
from app.services.merchant_signatures import DOES_NOT_VERIFY

router = APIRouter(
    prefix="/api/v1/merchant",
    tags=["merchant"],
    responses={
        401: {
            "model": ErrorOut,
            "description": "`invalid_signature`: PayTrace-Signature missing, malformed,"
            " outside the ±300 s window, already used, or not a live key's",
        },
        413: {"model": ErrorOut, "description": "the request body is too large"},
        503: {"model": ErrorOut, "description": "PostgreSQL or Redis is unavailable; retry"},
    },
)

EXAMPLE = {
    "id": 7,
    "legal_name": "Mama Mboga Groceries Ltd",
    "display_name": "MAMA MBOGA",
    "till_number": "512345",
    "contact_phone": "+254712345678",
    "payout_phone": "+254712345678",
    "payout_schedule": "daily",
    "payout_keep_cents": 50000,
    "payout_threshold_cents": 100000,
    "fee": {"bps": 50, "min_cents": 0, "max_cents": 20000},
    "status": "active",
    "balance": 0,
    "currency": "KES",
    "key_id": "mk_live_3f9a0c1d2e4b5a6978c0d1e2",
}


class FeeOut(BaseModel):
    bps: int = Field(description="basis points of each payment (100 = 1 %)")
    min_cents: int
    max_cents: int


class MerchantMeOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    id: int
    legal_name: str
    display_name: str = Field(description="the name payers see")
    till_number: str
    contact_phone: str
    payout_phone: str
    payout_schedule: str = Field(description="on_request | daily")
    payout_keep_cents: int = Field(description="what a daily payout leaves in the account, cents")
    payout_threshold_cents: int = Field(
        description="no daily payout while the balance above payout_keep_cents is less than"
        " this, cents (0: none)"
    )
    fee: FeeOut
    status: str
    balance: int = Field(description="the merchant account's balance, cents")
    currency: str = "KES"
    key_id: str = Field(description="the key that signed this request")

    @classmethod
    def of(cls, m: MerchantRow, key_id: str) -> Self:
        return cls(
            id=m.id,
            legal_name=m.legal_name,
            display_name=m.display_name,
            till_number=m.till_number,
            contact_phone=m.contact_phone,
            payout_phone=m.payout_phone,
            payout_schedule=m.payout_schedule,
            payout_keep_cents=m.payout_keep_cents,
            payout_threshold_cents=m.payout_threshold_cents,
            fee=FeeOut(bps=m.fee_bps, min_cents=m.fee_min_cents, max_cents=m.fee_max_cents),
            status=m.status,
            balance=m.balance,
            key_id=key_id,
        )


@router.get("/me", summary="The signing merchant's profile and balance")
async def merchant_me(api: Api, caller: SignedMerchant) -> MerchantMeOut:
    """Who PayTrace knows the key's merchant to be, and what its account holds (cents)."""
    merchant = await api.services.run(merchants.get, caller.merchant_id)
    if merchant is None:  # merchants are never deleted; a signed caller has one
        raise InvalidSignature(DOES_NOT_VERIFY)
    return MerchantMeOut.of(merchant, caller.key_id)
