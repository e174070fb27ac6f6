"""Merchant webhooks, the merchant's side: endpoints (a secret shown once), events
emitted in the caller's transaction, and the reads and requeues of the merchant API.
Delivery is the worker's: app/services/webhook_delivery.py.

An endpoint's secret signs deliveries (HMAC-SHA256), so PayTrace needs it back: it is
stored as a Fernet token under WALLET_ENCRYPTION_KEYS (the SecretBox of wallet seeds and
merchant API keys; `make rotate-keys` re-encrypts it). It is never logged.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain import webhooks as rules
from app.domain.records.webhooks import (
    DeliveryRow,
    EndpointRow,
    EventRow,
    deliveries_snapshot,
    endpoint_snapshot,
    event_snapshot,
)
from app.errors import (
    EndpointDisabled,
    IdempotencyConflict,
    NotFound,
    TooManyEndpoints,
    refused,
)
from app.services import custody
from app.services.custody import SecretBox
from app.services.ledger import check_key, request_hash
from app.services.merchant_idempotency import Answer, answer_once

ENDPOINT_NOT_FOUND = "this merchant has no such webhook endpoint"
EVENT_NOT_FOUND = "this merchant has no such event"


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    endpoint: EndpointRow
    secret: str  # in the create's answer (and its replay), nowhere else
    replayed: bool


def new_secret() -> str:
    return rules.SECRET_PREFIX + secrets.token_urlsafe(32)


def new_event_id() -> str:
    return rules.EVENT_ID_PREFIX + secrets.token_hex(12)


def create_endpoint(
    uow: UnitOfWork, box: SecretBox, merchant_id: int, url: str, key: str, *, production: bool
) -> NewEndpoint:
    """A new enabled endpoint with a fresh secret; commits. The same Idempotency-Key and
    URL answer the endpoint (and secret) made first; the key with another URL is refused.
    Raises ValidationFailed ('invalid_url', 'invalid_idempotency_key'), IdempotencyConflict,
    TooManyEndpoints, NotFound, ServiceUnavailable."""
    check_key(key)
    problem = rules.url_problem(url, production=production)
    if problem is not None:
        raise refused("invalid_url", problem)
    request_hash = hashlib.sha256(json.dumps({"url": url}).encode()).hexdigest()
    with uow:
        # The merchant's row serialises its creates: the count, and one key's retries.
        if uow.merchants.get(merchant_id, for_update=True) is None:
            raise NotFound("no such merchant")
        earlier = uow.webhooks.endpoint_by_key(merchant_id, key)
        if earlier is not None:
            endpoint, stored_hash, secret_ct = earlier
            if stored_hash != request_hash:
                raise IdempotencyConflict("this Idempotency-Key was used for a different request")
            return NewEndpoint(endpoint, box.decrypt(secret_ct), replayed=True)
        _check_room(uow, merchant_id)
        secret = new_secret()
        endpoint = uow.webhooks.insert_endpoint(
            merchant_id=merchant_id,
            url=url,
            secret_ct=box.encrypt(secret),
            key=key,
            request_hash=request_hash,
        )
        uow.commit()
    return NewEndpoint(endpoint, secret, replayed=False)


def _check_room(uow: UnitOfWork, merchant_id: int) -> None:
    enabled = [e for e in uow.webhooks.endpoints_of(merchant_id) if e.status == "enabled"]
    if len(enabled) >= rules.MAX_ENDPOINTS:
        raise TooManyEndpoints(
            f"at most {rules.MAX_ENDPOINTS} enabled webhook endpoints: disable one first"
        )


def list_endpoints(uow: UnitOfWork, merchant_id: int) -> list[EndpointRow]:
    """The merchant's endpoints, oldest first (never their secrets); reads only."""
    with uow:
        return uow.webhooks.endpoints_of(merchant_id)


def disable_endpoint(
    uow: UnitOfWork, merchant_id: int, endpoint_id: int, idempotency_key: str
) -> Answer:
    """Disable an endpoint (reason 'merchant'); the deliveries still to be made to it are
    abandoned (redeliver the events later). Disabled already: unchanged. Commits; 200
    with the endpoint. Raises NotFound, IdempotencyConflict, ValidationFailed,
    ServiceUnavailable."""

    def effect() -> tuple[int, dict]:
        endpoint = _own_endpoint(uow, merchant_id, endpoint_id)
        if endpoint.status == "enabled":
            endpoint = uow.webhooks.set_endpoint_status(endpoint.id, reason="merchant")
            uow.webhook_deliveries.abandon_open(endpoint.id, "the merchant disabled the endpoint")
        return 200, endpoint_snapshot(endpoint)

    fingerprint = request_hash(kind="disable_webhook_endpoint", endpoint_id=endpoint_id)
    return answer_once(uow, merchant_id, idempotency_key, fingerprint, effect)


def enable_endpoint(
    uow: UnitOfWork, merchant_id: int, endpoint_id: int, idempotency_key: str
) -> Answer:
    """Enable an endpoint (its failing clock restarts); new events go to it again, and
    the events it missed can be redelivered. Commits; 200 with the endpoint. Raises
    NotFound, TooManyEndpoints, IdempotencyConflict, ValidationFailed, ServiceUnavailable."""

    def effect() -> tuple[int, dict]:
        uow.merchants.get(merchant_id, for_update=True)  # the count of enabled endpoints
        endpoint = _own_endpoint(uow, merchant_id, endpoint_id)
        if endpoint.status == "disabled":
            _check_room(uow, merchant_id)
            endpoint = uow.webhooks.set_endpoint_status(endpoint.id, reason=None)
        return 200, endpoint_snapshot(endpoint)

    fingerprint = request_hash(kind="enable_webhook_endpoint", endpoint_id=endpoint_id)
    return answer_once(uow, merchant_id, idempotency_key, fingerprint, effect)


def ping(
    uow: UnitOfWork, merchant_id: int, endpoint_id: int, idempotency_key: str, now: datetime
) -> Answer:
    """Queue a `ping` event to this one endpoint; commits; 202 with the event. Raises
    NotFound, EndpointDisabled, IdempotencyConflict, ValidationFailed, ServiceUnavailable."""

    def effect() -> tuple[int, dict]:
        endpoint = _own_endpoint(uow, merchant_id, endpoint_id)
        if endpoint.status != "enabled":
            raise EndpointDisabled("this webhook endpoint is disabled: enable it first")
        data = {"object": "webhook_endpoint", "id": endpoint.id, "url": endpoint.url}
        event = uow.webhooks.insert_event(
            public_id=new_event_id(),
            merchant_id=merchant_id,
            event_type="ping",
            object_id=None,
            payload=data,
            now=now,
        )
        uow.webhook_deliveries.queue(event, now, endpoint_id=endpoint.id)
        return 202, event_snapshot(event)

    fingerprint = request_hash(kind="ping_webhook_endpoint", endpoint_id=endpoint_id)
    return answer_once(uow, merchant_id, idempotency_key, fingerprint, effect)


def emit(
    uow: UnitOfWork,
    merchant_id: int,
    event_type: str,
    data: dict,
    *,
    object_id: str | None = None,
    now: datetime | None = None,
) -> EventRow:
    """Record an event and queue a delivery to each of the merchant's enabled endpoints,
    IN THE CALLER'S TRANSACTION (inside its `with uow:`; never commits), so the event
    exists exactly when the change it reports does. `data` is the object's full
    snapshot, JSON-serialisable; `object_id` ('order:42') orders the events of one
    object per endpoint: by default `<data["object"]>:<data["id"]>` when both are
    there. Raises ValueError for an unknown event type (a programming error)."""
    if event_type not in rules.EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    if object_id is None and "object" in data and "id" in data:
        object_id = f"{data['object']}:{data['id']}"
    when = now or datetime.now(UTC)
    event = uow.webhooks.insert_event(
        public_id=new_event_id(),
        merchant_id=merchant_id,
        event_type=event_type,
        object_id=object_id,
        payload=data,
        now=when,
    )
    uow.webhook_deliveries.queue(event, when)
    return event


def list_events(
    uow: UnitOfWork, merchant_id: int, *, after_id: int | None, limit: int, unacknowledged: bool
) -> list[EventRow]:
    """The merchant's events, oldest first, after the internal id `after_id`; reads only."""
    with uow:
        return uow.webhooks.events_page(
            merchant_id, after_id=after_id, limit=limit, unacknowledged=unacknowledged
        )


def acknowledge(
    uow: UnitOfWork, merchant_id: int, public_id: str, idempotency_key: str, now: datetime
) -> Answer:
    """Mark an event handled (it leaves the unacknowledged list); again: unchanged.
    Commits; 200 with the event. Raises NotFound, IdempotencyConflict, ValidationFailed,
    ServiceUnavailable."""

    def effect() -> tuple[int, dict]:
        event = _own_event(uow, merchant_id, public_id)
        return 200, event_snapshot(uow.webhooks.acknowledge(event.id, now))

    fingerprint = request_hash(kind="acknowledge_event", event_id=public_id)
    return answer_once(uow, merchant_id, idempotency_key, fingerprint, effect)


def deliveries(
    uow: UnitOfWork, merchant_id: int, public_id: str
) -> tuple[EventRow, list[DeliveryRow]]:
    """An event's deliveries, each with its attempts; reads only. Raises NotFound."""
    with uow:
        event = _own_event(uow, merchant_id, public_id)
        return event, uow.webhook_deliveries.deliveries_of(event.id)


def redeliver(
    uow: UnitOfWork, merchant_id: int, public_id: str, idempotency_key: str, now: datetime
) -> Answer:
    """Queue the event again, now, to every enabled endpoint (a delivery being sent at
    this moment is left to finish); commits; 202 with its deliveries. The same key again
    answers the first redelivery and queues nothing more. Raises NotFound,
    IdempotencyConflict, ValidationFailed, ServiceUnavailable."""

    def effect() -> tuple[int, dict]:
        event = _own_event(uow, merchant_id, public_id)
        uow.webhook_deliveries.queue(event, now)
        return 202, deliveries_snapshot(event, uow.webhook_deliveries.deliveries_of(event.id))

    fingerprint = request_hash(kind="redeliver_event", event_id=public_id)
    return answer_once(uow, merchant_id, idempotency_key, fingerprint, effect)


def _own_endpoint(uow: UnitOfWork, merchant_id: int, endpoint_id: int) -> EndpointRow:
    endpoint = uow.webhooks.endpoint(merchant_id, endpoint_id, for_update=True)
    if endpoint is None:
        raise NotFound(ENDPOINT_NOT_FOUND)
    return endpoint


def _own_event(uow: UnitOfWork, merchant_id: int, public_id: str) -> EventRow:
    event = uow.webhooks.event(merchant_id, public_id)
    if event is None:
        raise NotFound(EVENT_NOT_FOUND)
    return event


def rekey_secrets(database: Database, box: SecretBox, batch_size: int = 500) -> int:
    """Re-encrypt every endpoint secret under the newest key (`make rotate-keys`);
    returns how many were rewritten. Batch by batch, each one transaction with its rows
    locked; a rerun skips those already current. Raises UndecryptableSecret naming the
    endpoint's id, never the secret."""
    return custody.rekey_secrets(
        database,
        box,
        read=lambda uow, after, limit: uow.webhooks.batch_for_rekey(after, limit),
        write=lambda uow, row_id, token: uow.webhooks.set_secret(row_id, token),
        what="webhook endpoint",
        batch_size=batch_size,
    )
