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


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def endpoint_snapshot(e: EndpointRow) -> dict[str, object]:
    """An endpoint as the merchant API answers it (and an idempotent replay repeats it):
    JSON-ready, never its secret."""
    return {
        "id": e.id,
        "url": e.url,
        "status": e.status,
        "disabled_reason": e.disabled_reason,
        "failing_since": _iso(e.failing_since),
        "created_at": _iso(e.created_at),
    }


def event_snapshot(e: EventRow) -> dict[str, object]:
    """An event as the merchant API answers it: its public id, never the internal one."""
    return {
        "id": e.public_id,
        "type": e.type,
        "created_at": _iso(e.created_at),
        "acknowledged_at": _iso(e.acknowledged_at),
        "data": e.payload,
    }


def delivery_snapshot(d: DeliveryRow) -> dict[str, object]:
    still_open = d.status in ("pending", "failed")
    return {
        "endpoint_id": d.endpoint_id,
        "url": d.url,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": _iso(d.next_attempt_at) if still_open else None,
        "delivered_at": _iso(d.delivered_at),
        "last_status_code": d.last_status_code,
        "last_latency_ms": d.last_latency_ms,
        "last_error": d.last_error,
        "log": [
            {
                "attempted_at": _iso(a.attempted_at),
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in d.log
        ],
    }


def deliveries_snapshot(event: EventRow, deliveries: list[DeliveryRow]) -> dict[str, object]:
    return {
        "event": event_snapshot(event),
        "deliveries": [delivery_snapshot(d) for d in deliveries],
    }
