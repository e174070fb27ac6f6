"""Requests to pay as stored and as shown: plain records the repository builds, services
return and channels render (see app/domain/records/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

PENDING, APPROVED, DECLINED, EXPIRED, CANCELED = (
    "pending",
    "approved",
    "declined",
    "expired",
    "canceled",
)
STATUSES = (PENDING, APPROVED, DECLINED, EXPIRED, CANCELED)


@dataclass(frozen=True, slots=True)
class PayRequestRow:
    """A request as its row holds it; read it through `shown(now)`: a pending request
    past its order's time is expired, as the order is."""

    id: int
    order_id: int
    merchant_id: int
    payer_user_id: int
    phone: str  # E.164
    status: str
    created_at: datetime
    expires_at: datetime  # the order's
    approved_at: datetime | None
    declined_at: datetime | None
    expired_at: datetime | None
    canceled_at: datetime | None

    def shown(self, now: datetime) -> PayRequestRow:
        if self.status == PENDING and now >= self.expires_at:
            return replace(self, status=EXPIRED, expired_at=self.expires_at)
        return self


@dataclass(frozen=True, slots=True)
class PendingPayRequest:
    """What a payer's dial shows of a request: who asks, how much, for what, and the
    order's code (the payment goes through paying that order)."""

    id: int
    order_code: str
    merchant_name: str  # the merchant's display name
    amount: int  # cents
    description: str | None
    merchant_reference: str | None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def snapshot(request: PayRequestRow) -> dict[str, object]:
    """The request as the merchant API answers it (and an event carries it)."""
    return {
        "id": request.id,
        "order_id": request.order_id,
        "phone": request.phone,
        "status": request.status,
        "created_at": _iso(request.created_at),
        "expires_at": _iso(request.expires_at),
        "approved_at": _iso(request.approved_at),
        "declined_at": _iso(request.declined_at),
        "expired_at": _iso(request.expired_at),
        "canceled_at": _iso(request.canceled_at),
    }
