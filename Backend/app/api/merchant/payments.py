"""The signed-in merchant's payments: GET /api/v1/merchant/payments.

What payers paid to its till, newest first, each with the fee it took: the rows a
merchant reconciles its till against. A payer is shown as a shop would see them on a
receipt: a first name and an initial, the phone masked. A pay order paid from M-Pesa
(`channel` `mpesa`) shows M-Pesa's receipt and the name and masked phone M-Pesa gave
(either may be null: M-Pesa may withhold them); one paid on Stellar (`stellar`) shows the
transaction's hash and the sender's address.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from app.api.admin_models import ErrorOut
from app.api.cursors import decode_cursor, encode_cursor
from app.api.merchant import me
from app.api.merchant.auth import SignedMerchant
from app.api.v1.context import Api
from app.domain.phone import mask
from app.domain.records.merchants import ReceivedPayment
from app.services import merchants

router = APIRouter(prefix=me.router.prefix, tags=["merchant"], responses=me.router.responses)

_CURSOR = "p"  # the payments list's cursors

EXAMPLE = {
    "reference": "K7QX2M9PLA",
    "amount": 25000,
    "fee": 125,
    "net": 24875,
    "payer": {"name": "Jane W.", "phone": "+2547****5678"},
    "channel": "ussd",
    "created_at": "2026-12-04T09:15:02Z",
}


def shown_name(full_name: str) -> str:
    """'Jane Wanjiku Otieno' -> 'Jane O.': enough to thank them, no more."""
    words = full_name.split()
    if len(words) < 2:
        return words[0] if words else "-"
    return f"{words[0]} {words[-1][0]}."


class PayerOut(BaseModel):
    name: str | None = Field(description="first name and the initial of the last")
    phone: str | None = Field(description="masked; null for a Stellar payer")
    stellar_address: str | None = Field(
        default=None, description="the Stellar account that paid (channel `stellar`)"
    )


class PaymentOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    reference: str = Field(description="PayTrace's reference, as in both SMS")
    amount: int = Field(description="cents the payer paid")
    fee: int = Field(description="cents the merchant's fee took")
    net: int = Field(description="amount - fee: what the merchant's balance grew by")
    payer: PayerOut
    channel: str = Field(description="ussd | api | mpesa | stellar")
    rail_receipt: str | None = Field(
        default=None,
        description="M-Pesa's receipt (`mpesa`) or the Stellar transaction's hash (`stellar`)",
    )
    created_at: datetime

    @classmethod
    def of(cls, row: ReceivedPayment) -> Self:
        return cls(
            reference=row.reference,
            amount=row.amount,
            fee=row.fee,
            net=row.amount - row.fee,
            payer=PayerOut(
                name=shown_name(row.payer_name) if row.payer_name else None,
                # mask() of an M-Pesa phone stored masked changes nothing: never whole.
                phone=mask(row.payer_phone) if row.payer_phone else None,
                stellar_address=row.stellar_sender,
            ),
            channel=row.channel,
            rail_receipt=row.rail_receipt,
            created_at=row.created_at,
        )


class PaymentPageOut(BaseModel):
    payments: list[PaymentOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


@router.get(
    "/payments",
    summary="Payments to the merchant's till, newest first",
    responses={422: {"model": ErrorOut, "description": "`invalid_cursor`, `validation_failed`"}},
)
async def list_payments(
    api: Api,
    caller: SignedMerchant,
    limit: Annotated[int, Query(ge=1, le=merchants.PAGE_MAX)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=40, description="`next_cursor` of the previous page")
    ] = None,
) -> PaymentPageOut:
    """Cursor-paginated: pass `next_cursor` back as `cursor` until it is null. Errors:
    `invalid_cursor`, `validation_failed` (422)."""
    rows, more = await api.services.run(
        merchants.payments_page,
        caller.merchant_id,
        limit=limit,
        before_id=decode_cursor(_CURSOR, cursor),
    )
    return PaymentPageOut(
        payments=[PaymentOut.of(row) for row in rows],
        next_cursor=encode_cursor(_CURSOR, rows[-1].transaction_id) if more and rows else None,
    )
