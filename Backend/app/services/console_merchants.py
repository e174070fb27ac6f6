"""The console's merchants: a merchant's page (balance, keys, fee rule, recent payments,
orders and payouts, webhook endpoints and the deliveries of its latest events), and the
redelivery of an event. Reads go through the services the admin and merchant APIs use."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.unit_of_work import UnitOfWork
from app.domain.records.merchants import PayoutRow, ReceivedPayment
from app.domain.records.pay_orders import OrderFilter, PayOrderRow
from app.domain.records.webhooks import DeliveryRow, EndpointRow, EventRow
from app.services import merchants, orders, webhooks
from app.services.merchants import MerchantDetail
from app.services.mpesa import merchant_payouts

RECENT = 10  # rows of each table on a merchant's page


@dataclass(frozen=True)
class EventDeliveries:
    event: EventRow
    deliveries: tuple[DeliveryRow, ...]  # each with its attempts (status, latency)


@dataclass(frozen=True)
class MerchantCard:
    detail: MerchantDetail  # the merchant, its balance and its keys (never a secret)
    payments: tuple[ReceivedPayment, ...]
    orders: tuple[PayOrderRow, ...]
    payouts: tuple[PayoutRow, ...]
    endpoints: tuple[EndpointRow, ...]
    events: tuple[EventDeliveries, ...]  # newest first


def card(uow: UnitOfWork, merchant_id: int, now: datetime | None = None) -> MerchantCard | None:
    """Everything the merchant's page shows, RECENT rows of each table; None for no such
    merchant. Reads only."""
    now = now or datetime.now(UTC)
    found = merchants.detail(uow, merchant_id)
    if found is None:
        return None
    payments, _ = merchants.payments_page(uow, merchant_id, limit=RECENT)
    shown_orders, _ = orders.page(uow, merchant_id, OrderFilter(), limit=RECENT, now=now)
    payouts, _ = merchant_payouts.page(uow, merchant_id, limit=RECENT, before_id=None)
    endpoints = webhooks.list_endpoints(uow, merchant_id)
    with uow:
        latest = uow.webhooks.latest_events(merchant_id, RECENT)
        events = tuple(
            EventDeliveries(event, tuple(uow.webhook_deliveries.deliveries_of(event.id)))
            for event in latest
        )
    return MerchantCard(
        found, tuple(payments), tuple(shown_orders), tuple(payouts), tuple(endpoints), events
    )


def redeliver(uow: UnitOfWork, merchant_id: int, public_id: str) -> int:
    """The merchant API's redelivery (webhooks.redeliver), asked by an operator: the
    event queued again, now, to every enabled endpoint; commits; the deliveries queued.
    Each console request is its own redelivery (a fresh idempotency key). Raises NotFound."""
    answer = webhooks.redeliver(
        uow, merchant_id, public_id, f"console:{uuid.uuid4().hex}", datetime.now(UTC)
    )
    return len(answer.body.get("deliveries", []))
