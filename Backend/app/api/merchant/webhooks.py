"""Webhooks on the merchant API: endpoints (create, list, disable, enable, ping) and
events (list, acknowledge, deliveries, redeliver). docs/merchants.md, "Webhooks"."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import JSONResponse

from app.api.admin_models import ErrorOut
from app.api.cursors import MAX_ID, decode_cursor, encode_cursor
from app.api.merchant import me
from app.api.merchant.auth import SignedMerchant
from app.api.merchant.idempotency import MerchantIdempotencyKey
from app.api.merchant.webhook_models import (
    DeliveriesOut,
    EndpointIn,
    EndpointOut,
    EndpointsOut,
    EventOut,
    EventsOut,
    NewEndpointOut,
)
from app.api.v1.context import Api
from app.domain.records.webhooks import deliveries_snapshot, endpoint_snapshot, event_snapshot
from app.services import webhooks
from app.services.merchant_idempotency import Answer

_CURSOR = "ev"  # the events list's cursors
_NOT_FOUND = {404: {"model": ErrorOut, "description": "not this merchant's (or none)"}}
_INVALID = {422: {"model": ErrorOut, "description": "a refused input"}}
_KEYED = {
    400: {"model": ErrorOut, "description": "`idempotency_key_required`"},
    409: {"model": ErrorOut, "description": "`idempotency_key_reused`, or the state refuses"},
}


def _answer(answer: Answer) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


router = APIRouter(prefix=me.router.prefix, tags=["merchant"], responses=me.router.responses)

EndpointId = Annotated[int, Path(ge=1, le=MAX_ID)]
EventId = Annotated[
    str, Path(pattern=r"^evt_[0-9a-f]{24}$", examples=["evt_3f9a0c1d2e4b5a6978c0d1e2"])
]


@router.post(
    "/webhook-endpoints",
    summary="Register a webhook endpoint (its secret is in this answer only)",
    status_code=status.HTTP_201_CREATED,
    response_model=None,
    responses={201: {"model": NewEndpointOut}, **_KEYED, **_INVALID},
)
async def create_endpoint(
    body: EndpointIn, api: Api, caller: SignedMerchant, key: MerchantIdempotencyKey
) -> JSONResponse:
    """An enabled endpoint and its signing `secret`, shown here and in a retry with the
    same Idempotency-Key, never again. Errors: `invalid_url` (422),
    `too_many_endpoints` (409), `idempotency_key_reused` (409)."""
    production = api.runtime.settings.environment == "production"
    made = await api.services.run(
        webhooks.create_endpoint,
        api.services.box,
        caller.merchant_id,
        body.url,
        key,
        production=production,
    )
    body = {**endpoint_snapshot(made.endpoint), "secret": made.secret}
    headers = {"Cache-Control": "no-store"}
    if made.replayed:
        headers["Idempotent-Replayed"] = "true"
    # A retry gets the same answer as the first call, its status too (as every other
    # keyed POST of the merchant API): only the header says it was replayed.
    return JSONResponse(body, status_code=status.HTTP_201_CREATED, headers=headers)


@router.get("/webhook-endpoints", summary="The merchant's webhook endpoints")
async def list_endpoints(api: Api, caller: SignedMerchant) -> EndpointsOut:
    """Every endpoint, oldest first; never a secret."""
    rows = await api.services.run(webhooks.list_endpoints, caller.merchant_id)
    return EndpointsOut.model_validate({"data": [endpoint_snapshot(e) for e in rows]})


@router.post(
    "/webhook-endpoints/{endpoint_id}/disable",
    summary="Disable a webhook endpoint",
    response_model=None,
    responses={200: {"model": EndpointOut}, **_NOT_FOUND, **_KEYED, **_INVALID},
)
async def disable_endpoint(
    endpoint_id: EndpointId, api: Api, caller: SignedMerchant, key: MerchantIdempotencyKey
) -> JSONResponse:
    """No more deliveries to it; those still to be made are abandoned (redeliver them
    after enabling). Disabling again changes nothing."""
    answer = await api.services.run(webhooks.disable_endpoint, caller.merchant_id, endpoint_id, key)
    return _answer(answer)


@router.post(
    "/webhook-endpoints/{endpoint_id}/enable",
    summary="Enable a webhook endpoint",
    response_model=None,
    responses={200: {"model": EndpointOut}, **_NOT_FOUND, **_KEYED, **_INVALID},
)
async def enable_endpoint(
    endpoint_id: EndpointId, api: Api, caller: SignedMerchant, key: MerchantIdempotencyKey
) -> JSONResponse:
    """New events go to it again (one disabled as `failing` starts its clock afresh).
    Errors: `too_many_endpoints` (409)."""
    answer = await api.services.run(webhooks.enable_endpoint, caller.merchant_id, endpoint_id, key)
    return _answer(answer)


@router.post(
    "/webhook-endpoints/{endpoint_id}/ping",
    summary="Send a ping event to one endpoint",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=None,
    responses={202: {"model": EventOut}, **_NOT_FOUND, **_KEYED, **_INVALID},
)
async def ping_endpoint(
    endpoint_id: EndpointId, api: Api, caller: SignedMerchant, key: MerchantIdempotencyKey
) -> JSONResponse:
    """Queues a `ping` event to this endpoint (the worker delivers it like any other);
    the same Idempotency-Key answers the same event. Errors: `endpoint_disabled` (409)."""
    answer = await api.services.run(
        webhooks.ping, caller.merchant_id, endpoint_id, key, datetime.now(UTC)
    )
    return _answer(answer)


@router.get("/events", summary="The merchant's events, oldest first", responses=_INVALID)
async def list_events(
    api: Api,
    caller: SignedMerchant,
    unacknowledged: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> EventsOut:
    """Oldest first, so that a merchant catching up handles them in order;
    `unacknowledged=true` lists only those not acknowledged yet. `next_cursor` while more
    follow. Errors: `invalid_cursor` (422)."""
    after = decode_cursor(_CURSOR, cursor)
    rows = await api.services.run(
        webhooks.list_events,
        caller.merchant_id,
        after_id=after,
        limit=limit,
        unacknowledged=unacknowledged,
    )
    more = encode_cursor(_CURSOR, rows[-1].id) if len(rows) == limit else None
    return EventsOut.model_validate(
        {"data": [event_snapshot(e) for e in rows], "next_cursor": more}
    )


@router.post(
    "/events/{event_id}/acknowledge",
    summary="Mark an event handled",
    response_model=None,
    responses={200: {"model": EventOut}, **_NOT_FOUND, **_KEYED, **_INVALID},
)
async def acknowledge_event(
    event_id: EventId, api: Api, caller: SignedMerchant, key: MerchantIdempotencyKey
) -> JSONResponse:
    """It leaves the unacknowledged list; acknowledging again changes nothing."""
    answer = await api.services.run(
        webhooks.acknowledge, caller.merchant_id, event_id, key, datetime.now(UTC)
    )
    return _answer(answer)


@router.get(
    "/events/{event_id}/deliveries",
    summary="An event's deliveries and every attempt",
    responses={**_NOT_FOUND, **_INVALID},
)
async def event_deliveries(event_id: EventId, api: Api, caller: SignedMerchant) -> DeliveriesOut:
    """One delivery per endpoint, each with its status and its attempts (status code,
    latency)."""
    event, rows = await api.services.run(webhooks.deliveries, caller.merchant_id, event_id)
    return DeliveriesOut.model_validate(deliveries_snapshot(event, rows))


@router.post(
    "/events/{event_id}/redeliver",
    summary="Deliver an event again to every enabled endpoint",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=None,
    responses={202: {"model": DeliveriesOut}, **_NOT_FOUND, **_KEYED, **_INVALID},
)
async def redeliver_event(
    event_id: EventId, api: Api, caller: SignedMerchant, key: MerchantIdempotencyKey
) -> JSONResponse:
    """Queued now for every enabled endpoint, delivered or not before (one being sent
    at this moment finishes first). A retry with the same Idempotency-Key answers the
    first redelivery and queues nothing more; a new key queues it again."""
    answer = await api.services.run(
        webhooks.redeliver, caller.merchant_id, event_id, key, datetime.now(UTC)
    )
    return _answer(answer)
