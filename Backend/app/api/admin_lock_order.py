"""The admin API's lock order: `GET` and `PUT /api/v1/admin/lock-order`.

An operator marks a hot account (a wallet everyone pays, a merchant's account, a
harambee's escrow) locked last: every movement locks its accounts in (locked_last, id)
order, so a movement that only credits a marked account holds its lock for the legs,
the SMS and COMMIT only (app/services/lock_order.py; docs/architecture.md, "The
lock order"). A change waits for the movements in flight, a quarter of a second at a
time (every ledger read queues behind it meanwhile), five tries; if the ledger stays
busy, nothing changes and the answer is 503 `ledger_busy`: retry. Same conventions as
app/api/admin.py: ADMIN_TOKEN as a bearer token, `{"error", "detail"}` failures.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Annotated, Self

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from app.api.admin_auth import AdminRuntime, admin_router
from app.api.cursors import MAX_ID
from app.api.phone_input import e164
from app.domain.records.ledger import AccountLockOrder
from app.services import lock_order
from app.services.lock_order import Owner

log = logging.getLogger("paytrace.admin")

router = admin_router(
    r400="the body is not JSON text (e.g. not UTF-8)",
    r404="no account belongs to the owner named",
    r503="ledger_busy: movements kept the ledger busy at every try; nothing changed, retry",
)

ACCOUNT = {
    "account_id": 1042,
    "kind": "merchant",
    "locked_last": True,
    "phone": None,
    "merchant_id": 7,
    "campaign_code": None,
}


class LockOrderIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"merchant_id": 7, "locked_last": True}]},
    )

    phone: str | None = Field(None, max_length=32, description="a wallet's owner, any format")
    merchant_id: int | None = Field(None, ge=1, le=MAX_ID)
    campaign_code: str | None = Field(None, pattern=r"^[1-9][0-9]{5}$")
    locked_last: StrictBool

    @model_validator(mode="after")
    def _one_owner(self) -> Self:
        named = [self.phone, self.merchant_id, self.campaign_code]
        if sum(v is not None for v in named) != 1:
            raise ValueError("name exactly one of phone, merchant_id, campaign_code")
        return self

    def owner(self) -> Owner:
        phone = e164(self.phone) if self.phone is not None else None
        return Owner(phone=phone, merchant_id=self.merchant_id, campaign_code=self.campaign_code)


class LockOrderOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ACCOUNT]})

    account_id: int
    kind: str = Field(description="wallet | merchant | campaign (a harambee's escrow)")
    locked_last: bool
    phone: str | None = Field(description="a wallet's owner")
    merchant_id: int | None
    campaign_code: str | None

    @classmethod
    def of(cls, account: AccountLockOrder) -> Self:
        return cls(**asdict(account))


class LockOrderChangeOut(BaseModel):
    account: LockOrderOut
    changed: bool = Field(description="false when the account already had this mark")


class LockOrderPageOut(BaseModel):
    items: list[LockOrderOut]


@router.get("/lock-order", summary="The accounts marked locked last")
async def list_marked(
    runtime: AdminRuntime,
    limit: Annotated[int, Query(ge=1, le=lock_order.MARKED_PAGE_MAX)] = 100,
) -> LockOrderPageOut:
    """Every account an operator marked locked last, in id order. Read-only."""
    rows = await runtime.run(lock_order.marked, limit)
    return LockOrderPageOut(items=[LockOrderOut.of(row) for row in rows])


@router.put("/lock-order", summary="Mark or unmark a hot account locked last")
async def set_lock_order(body: LockOrderIn, runtime: AdminRuntime) -> LockOrderChangeOut:
    """Name one owner (`phone` for a wallet, `merchant_id`, or `campaign_code` for a
    harambee's escrow) and `locked_last`. Marking an account that already has the mark
    changes nothing (`changed`: false). Send `X-Audit-Reason`."""
    owner = body.owner()
    if owner.merchant_id is not None:
        runtime.audit.target("merchant", owner.merchant_id)
    elif owner.campaign_code is not None:
        runtime.audit.target("campaign", owner.campaign_code)
    runtime.audit.detail["locked_last"] = body.locked_last
    # The account's id names the audit row, which the mark's own commit writes.
    found = await runtime.run(lock_order.account_of, owner)
    runtime.audit.target("ledger_account", found.account_id)
    account, changed = await runtime.run(lock_order.mark_locked_last, owner, body.locked_last)
    if changed:
        log.info(
            "lock order changed",
            extra={
                "account_id": account.account_id,
                "locked_last": body.locked_last,
                "request_id": runtime.audit.request_id,
            },
        )
    else:
        runtime.audit.detail["changed"] = False
    return LockOrderChangeOut(account=LockOrderOut.of(account), changed=changed)
