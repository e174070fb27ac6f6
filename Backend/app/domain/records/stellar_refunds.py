"""A Stellar payment sent back to its sender (owed back, or a merchant's refund of an
order paid on Stellar), as the refunder reads it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

PENDING, SIGNED, SENT, FAILED = "pending", "signed", "sent", "failed"


@dataclass(frozen=True, slots=True)
class RefundRow:
    id: int  # its own key: one payment owed back, or one merchant's refund
    operation_id: str | None  # the payment owed back (stellar_incoming), or
    merchant_refund_id: int | None  # the merchant's refund it sends (merchant_refunds)
    to_address: str  # the sender
    stroops: int  # exactly what arrived, or what the merchant refunds
    status: str  # pending | signed | sent | failed
    envelope_xdr: str | None  # saved before it is submitted (signed, sent)
    tx_hash: str | None
    max_time: datetime | None
    ledger: int | None
    last_error: str | None
