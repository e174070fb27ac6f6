"""The merchant API's webhook shapes, for its OpenAPI schema: endpoints, events,
deliveries and attempts, as app/domain/records/webhooks.py's snapshots render them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictStr


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


class EventsOut(BaseModel):
    data: list[EventOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None = Field(description="None: no answer (timeout, refused...)")
    latency_ms: int
    error: str | None


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


class DeliveriesOut(BaseModel):
    event: EventOut
    deliveries: list[DeliveryOut]
