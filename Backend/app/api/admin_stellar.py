"""The admin API's list of Stellar payments owed back and not yet sent back:
`GET /api/v1/admin/stellar/owed-back`.

A payment to the treasury that names a pay order but cannot pay it (a wrong amount, a
late, canceled or paid order, a code no order has) is never kept silently: the incoming
watcher records it `owed_back` with its reason and the refunder sends it back
(docs/stellar.md, "Orders paid on Stellar"). This lists those still on their way
(`pending`, `signed`) and those the network refused for good (`failed`: an operator
pays them back by hand). It only reads. Same conventions as app/api/admin.py:
ADMIN_TOKEN as a bearer token, `{"error", "detail"}` failures, amounts in cents.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from app.api.admin_auth import AdminRuntime, admin_router
from app.services import stellar_order_payments
from app.services.stellar_order_payments import OwedBack

router = admin_router()

EXAMPLE = {
    "operation_id": "120259088385",
    "tx_hash": "3a9f" + "0" * 60,
    "from_address": "GBSENDERXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "to_address": "GBTREASURYXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "amount": 24999,
    "order_id": 42,
    "reason": "wrong amount: paid KES 249.99, order 48213575 is KES 250.00",
    "seen_at": "2026-12-04T15:21:02.5+00:00",
    "refund_status": "failed",
    "refund_error": "failed: {'transaction': 'tx_failed', 'operations': ['op_no_trust']}",
}


class OwedBackOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    operation_id: str = Field(description="Horizon's operation id of the payment")
    tx_hash: str
    from_address: str = Field(description="the sender: pay it back here")
    to_address: str = Field(description="the treasury")
    amount: int = Field(description="cents (a fraction of a cent rounded up: see reason)")
    order_id: int | None = Field(description="the order it named, if one has that code or id")
    reason: str | None = Field(description="why it could not pay the order")
    seen_at: datetime = Field(description="when the watcher recorded it")
    refund_status: str = Field(
        description="pending | signed (being sent) | failed (refused for good: pay it back by hand)"
    )
    refund_error: str | None = Field(description="the network's last refusal")

    @classmethod
    def of(cls, owed: OwedBack) -> Self:
        payment = owed.payment
        return cls(
            operation_id=payment.operation_id,
            tx_hash=payment.tx_hash,
            from_address=payment.from_address,
            to_address=payment.to_address,
            amount=payment.amount,
            order_id=payment.order_id,
            reason=payment.reason,
            seen_at=owed.seen_at,
            refund_status=owed.refund.status,
            refund_error=owed.refund.last_error,
        )


class OwedBackPageOut(BaseModel):
    items: list[OwedBackOut]


@router.get("/stellar/owed-back", summary="Stellar payments not yet sent back to their senders")
async def list_owed_back(
    runtime: AdminRuntime,
    limit: Annotated[int, Query(ge=1, le=stellar_order_payments.OWED_PAGE_MAX)] = 50,
) -> OwedBackPageOut:
    """Payments to the treasury naming a pay order they could not pay and not yet sent
    back, oldest first. Read-only: nothing here moves money."""
    rows = await runtime.run(stellar_order_payments.owed_back, limit)
    return OwedBackPageOut(items=[OwedBackOut.of(row) for row in rows])
