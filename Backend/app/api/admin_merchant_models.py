"""Bodies of the admin API's merchant routes. Amounts are integer cents; no body ever
carries a key's secret but the answer that issues it."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from app.domain import merchants as rules
from app.domain.records.merchants import MerchantKeyRow, MerchantRow
from app.services.merchant_keys import IssuedKey
from app.services.merchants import MerchantDetail

WHEN = "2026-12-04T09:15:04.512+00:00"
KEY = {
    "key_id": "mk_live_3f9a0c1d2e4b5a6978c0d1e2",
    "created_at": WHEN,
    "revoked_at": None,
    "last_used_at": None,
}
ONBOARD = {
    "legal_name": "Mama Mboga Groceries Ltd",
    "display_name": "MAMA MBOGA",
    "till_number": "512345",
    "contact_phone": "0712345678",
    "payout_phone": "0712345678",
    "payout_schedule": "daily",
    "fee_bps": 50,
    "fee_min_cents": 0,
    "fee_max_cents": 20000,
    "language": "sw",
}
MERCHANT = {
    **ONBOARD,
    "id": 7,
    "contact_phone": "+254712345678",
    "payout_phone": "+254712345678",
    "status": "active",
    "balance": 0,
    "currency": "KES",
    "created_at": WHEN,
    "payout_keep_cents": 0,
    "payout_threshold_cents": 0,
}


class MerchantIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [ONBOARD]})

    legal_name: StrictStr = Field(max_length=200, description="the registered business name")
    display_name: StrictStr = Field(
        max_length=100,
        description=f"what payers see on USSD: {rules.DISPLAY_NAME_MIN} to"
        f" {rules.DISPLAY_NAME_MAX} GSM-7 characters",
    )
    till_number: StrictStr = Field(
        max_length=20,
        description="5 to 7 digits, no leading 0, unique: what payers type; the merchant's"
        " natural key (the same request again answers the same merchant)",
    )
    contact_phone: StrictStr = Field(max_length=32, description="any format; read as Kenyan")
    payout_phone: StrictStr = Field(
        max_length=32, description="the M-Pesa number payouts will go to (payouts: not yet)"
    )
    payout_schedule: StrictStr = Field(
        default="on_request", max_length=20, description="on_request | daily"
    )
    fee_bps: StrictInt = Field(description="the fee in basis points of a payment (100 = 1 %)")
    fee_min_cents: StrictInt = Field(default=0, description="the fee's floor, cents")
    fee_max_cents: StrictInt = Field(description="the fee's cap, cents")
    language: StrictStr = Field(
        default="en", max_length=2, description="en | sw: the language of the merchant's SMS"
    )


class MerchantPatch(BaseModel):
    """The fields an operator may change; each left out stays as it is. The till never
    changes (it is what payers type and the merchant's key)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"display_name": "MAMA MBOGA 2", "fee_bps": 80}]},
    )

    legal_name: StrictStr | None = Field(default=None, max_length=200)
    display_name: StrictStr | None = Field(default=None, max_length=100)
    contact_phone: StrictStr | None = Field(default=None, max_length=32)
    payout_phone: StrictStr | None = Field(default=None, max_length=32)
    payout_schedule: StrictStr | None = Field(default=None, max_length=20)
    fee_bps: StrictInt | None = None
    fee_min_cents: StrictInt | None = None
    fee_max_cents: StrictInt | None = None
    language: StrictStr | None = Field(default=None, max_length=2)
    payout_keep_cents: StrictInt | None = Field(
        default=None, description="what a daily payout leaves in the account, cents (0: nothing)"
    )
    payout_threshold_cents: StrictInt | None = Field(
        default=None,
        description="no daily payout while the balance above the minimum to keep is less"
        " than this, cents (0: none)",
    )


class MerchantOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [MERCHANT]})

    id: int
    legal_name: str
    display_name: str
    till_number: str
    contact_phone: str
    payout_phone: str
    payout_schedule: str = Field(description="on_request | daily")
    fee_bps: int
    fee_min_cents: int
    fee_max_cents: int
    status: str = Field(description="active | suspended")
    balance: int = Field(description="the merchant account's balance, cents")
    currency: str = "KES"
    created_at: datetime
    language: str = Field(description="en | sw: the language of the merchant's SMS")
    payout_keep_cents: int = Field(description="what a daily payout leaves, cents")
    payout_threshold_cents: int = Field(
        description="the least a daily payout is made for, above what it leaves; cents"
    )

    @classmethod
    def of(cls, m: MerchantRow) -> Self:
        return cls(
            id=m.id,
            legal_name=m.legal_name,
            display_name=m.display_name,
            till_number=m.till_number,
            contact_phone=m.contact_phone,
            payout_phone=m.payout_phone,
            payout_schedule=m.payout_schedule,
            fee_bps=m.fee_bps,
            fee_min_cents=m.fee_min_cents,
            fee_max_cents=m.fee_max_cents,
            status=m.status,
            balance=m.balance,
            created_at=m.created_at,
            language=m.language,
            payout_keep_cents=m.payout_keep_cents,
            payout_threshold_cents=m.payout_threshold_cents,
        )


class KeyOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [KEY]})

    key_id: str
    created_at: datetime
    revoked_at: datetime | None = Field(description="null while the key is live")
    last_used_at: datetime | None = Field(description="to the minute; null: never used")

    @classmethod
    def of(cls, key: MerchantKeyRow) -> Self:
        return cls(
            key_id=key.key_id,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
        )


class MerchantDetailOut(MerchantOut):
    model_config = ConfigDict(json_schema_extra={"examples": [{**MERCHANT, "keys": [KEY]}]})

    keys: list[KeyOut] = Field(description="live and revoked, oldest first; never a secret")

    @classmethod
    def of_detail(cls, found: MerchantDetail) -> Self:
        base = MerchantOut.of(found.merchant).model_dump()
        return cls(**base, keys=[KeyOut.of(key) for key in found.keys])


class MerchantPageOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [MERCHANT], "next_cursor": None}]}
    )

    items: list[MerchantOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


class IssuedKeyOut(KeyOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**KEY, "merchant_id": 7, "secret": "mks_<43 random characters>"}]
        }
    )

    merchant_id: int
    secret: str = Field(
        description="shown this once: PayTrace keeps it only encrypted and never shows it again"
    )

    @classmethod
    def issued(cls, issued: IssuedKey) -> Self:
        return cls(
            **KeyOut.of(issued.key).model_dump(),
            merchant_id=issued.key.merchant_id,
            secret=issued.secret,
        )


class MerchantStatusOut(BaseModel):
    merchant: MerchantOut
    changed: bool = Field(description="false: it already had this status; nothing changed")
