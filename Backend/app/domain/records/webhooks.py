"""Merchant webhooks as stored: endpoints (never their secrets), events, deliveries and
their attempts (see app/domain/records/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class EndpointRow:
    id: int
    merchant_id: int
    url: str
    status: str  # enabled | disabled
    disabled_reason: str | None  # merchant | failing
    failing_since: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int  # internal: cursors and joins
    public_id: str  # evt_...: what a merchant sees
    merchant_id: int
    type: str
    object_id: str | None
    payload: dict  # the object's full snapshot
    created_at: datetime
    acknowledged_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttemptRow:
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    endpoint_id: int
    url: str
    status: str  # pending | delivered | failed | abandoned
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str | None
    delivered_at: datetime | None
    log: tuple[AttemptRow, ...] = ()


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery a worker holds under its lease, with what sending it needs."""

    id: int
    lease_token: str
    attempts: int  # before this one
    endpoint_id: int
    merchant_id: int
    url: str
    secret_ct: str
    event_public_id: str
    event_type: str
    event_created_at: datetime
    payload: dict
