"""A Stellar payment owed back to its sender, as the refunder reads it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

PENDING, SIGNED, SENT, FAILED = "pending", "signed", "sent", "failed"


@dataclass(frozen=True, slots=True)
class RefundRow:
    operation_id: str  # the payment owed back (stellar_incoming)
    to_address: str  # its sender
    stroops: int  # exactly what arrived
    status: str  # pending | signed | sent | failed
    envelope_xdr: str | None  # saved before it is submitted (signed, sent)
    tx_hash: str | None
    max_time: datetime | None
    ledger: int | None
    last_error: str | None
