"""What the admin API and the outbox read: audit rows, stored callbacks, outbox rows.

Plain records (no behaviour but what derives from their own fields): repositories
build them, services return them, channels render them. They live in the domain so
that no layer reaches into app/db/repositories for a type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    payload: dict
    attempts: int
    dedupe_key: str
    status: str
    available_at: datetime
    last_error: str | None
    request_id: str | None = None  # the request that wrote it (X-Request-ID)


@dataclass(frozen=True)
class InboundCallback:
    id: int
    provider: str  # mpesa | at
    kind: str  # stk | b2c_result | b2c_timeout | status_result | status_timeout | sms_delivery
    path: str  # its secret token masked
    query: str | None
    content_type: str | None
    body: str
    verification: str  # token_matched | token_mismatch | no_token
    reference: str | None
    outcome: str
    detail: str | None
    received_at: datetime
    processed_at: datetime | None


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str  # 'token:<fingerprint>' | 'anonymous'
    action: str
    target_kind: str | None
    target_id: str | None
    reason: str | None
    client_address: str
    request_id: str
    outcome: str  # done | refused | failed
    detail: dict[str, object]


@dataclass(frozen=True)
class AuditFilter:
    """Rows matching every field given (None: any)."""

    actor: str | None = None
    action: str | None = None
    target_kind: str | None = None
    target_id: str | None = None
    outcome: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
