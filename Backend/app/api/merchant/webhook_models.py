"""The merchant API's webhook shapes: endpoints, events, deliveries and attempts, each
built from the services' own records."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from app.domain.records.webhooks import AttemptRow, DeliveryRow, EndpointRow, EventRow


class EndpointIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"url": "https://shop.example.com/paytrace/webhooks"}]},
    )

    url: StrictStr = Field(
        min_length=1,
        max_length=2048,
        description="https (http://127.0.0.1 outside production); no credentials, no"
        " private addresses",
    )


class EndpointOut(BaseModel):
    id: int
    url: str
    status: str = Field(description="enabled | disabled")
    disabled_reason: str | None = Field(description="merchant | failing")
    failing_since: datetime | None = Field(
        description="the first failed attempt since the last delivered one"
    )
    created_at: datetime

    @classmethod
    def of(cls, e: EndpointRow) -> Self:
        return cls(
            id=e.id,
            url=e.url,
            status=e.status,
            disabled_reason=e.disabled_reason,
            failing_since=e.failing_since,
            created_at=e.created_at,
        )


class NewEndpointOut(EndpointOut):
    secret: str = Field(
        description="signs every delivery (PayTrace-Signature): shown in this answer only"
    )


class EndpointsOut(BaseModel):
    data: list[EndpointOut]


class EventOut(BaseModel):
    id: str = Field(description="evt_...: also the PayTrace-Event-Id of its deliveries")
    type: str
    created_at: datetime
    acknowledged_at: datetime | None
    data: dict = Field(description="the object's full snapshot when the event happened")

    @classmethod
    def of(cls, e: EventRow) -> Self:
        return cls(
            id=e.public_id,
            type=e.type,
            created_at=e.created_at,
            acknowledged_at=e.acknowledged_at,
            data=e.payload,
        )


class EventsOut(BaseModel):
    data: list[EventOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None = Field(description="None: no answer (timeout, refused...)")
    latency_ms: int
    error: str | None

    @classmethod
    def of(cls, a: AttemptRow) -> Self:
        return cls(
            attempted_at=a.attempted_at,
            status_code=a.status_code,
            latency_ms=a.latency_ms,
            error=a.error,
        )


class DeliveryOut(BaseModel):
    endpoint_id: int
    url: str
    status: str = Field(description="pending | delivered | failed | abandoned")
    attempts: int
    next_attempt_at: datetime | None = Field(description="while pending or failed")
    delivered_at: datetime | None
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str | None
    log: list[AttemptOut] = Field(description="every attempt, oldest first")

    @classmethod
    def of(cls, d: DeliveryRow) -> Self:
        open_ = d.status in ("pending", "failed")
        return cls(
            endpoint_id=d.endpoint_id,
            url=d.url,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at if open_ else None,
            delivered_at=d.delivered_at,
            last_status_code=d.last_status_code,
            last_latency_ms=d.last_latency_ms,
            last_error=d.last_error,
            log=[AttemptOut.of(a) for a in d.log],
        )


class DeliveriesOut(BaseModel):
    event: EventOut
    deliveries: list[DeliveryOut]

    @classmethod
    def of(cls, event: EventRow, deliveries: list[DeliveryRow]) -> Self:
        return cls(event=EventOut.of(event), deliveries=[DeliveryOut.of(d) for d in deliveries])
