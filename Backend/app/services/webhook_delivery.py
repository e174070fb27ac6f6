"""Merchant webhooks, the worker's side: claim the deliveries due under a lease, sign
them, and record each attempt's outcome (delivered, retried later, or the endpoint given
up after three days of failures, with an SMS to the merchant). The loop that calls
these is app/worker/webhooks.py; the rules are app/domain/webhooks.py.

A claim is a lease: the rows are committed with `lease_until` before anything is sent,
so a second worker skips them (FOR UPDATE SKIP LOCKED while claiming, the lease after),
and a worker that dies mid-send frees them when the lease ends (then the delivery is
sent again: deliveries are at least once, the event id lets a merchant drop repeats).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.db.unit_of_work import UnitOfWork
from app.domain import webhooks as rules
from app.domain.records.webhooks import ClaimedDelivery
from app.integrations.webhook_http import SendResult
from app.services.custody import SecretBox, UndecryptableSecret
from app.services.notifications import queue_sms

log = logging.getLogger("paytrace.webhooks")

USER_AGENT = "PayTrace-Webhooks/1"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A claimed delivery, its secret opened: signed just before each POST (`request`),
    so a batch's last delivery is not sent with a signature as old as the batch."""

    claimed: ClaimedDelivery
    secret: str = field(repr=False)

    def request(self, now: datetime) -> tuple[str, bytes, dict[str, str]]:
        """(url, body, headers) signed at `now`."""
        row = self.claimed
        body = rules.event_body(
            row.event_public_id, row.event_type, row.event_created_at.isoformat(), row.payload
        )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            rules.EVENT_ID_HEADER: row.event_public_id,
            rules.SIGNATURE_HEADER: rules.signature_header(self.secret, int(now.timestamp()), body),
        }
        return row.url, body, headers


def claim_due(
    uow: UnitOfWork, box: SecretBox, *, now: datetime, limit: int, lease: timedelta
) -> list[Outgoing]:
    """Lease up to `limit` due deliveries (the earliest undelivered event of an object
    first, per endpoint) and open their endpoints' secrets; commits the lease. A secret
    no key opens is recorded as a failed attempt, never sent unsigned."""
    token = secrets.token_hex(16)
    with uow:
        claimed = uow.webhook_deliveries.claim(
            now=now, limit=limit, token=token, lease_until=now + lease
        )
        uow.commit()
    ready = []
    for row in claimed:
        try:
            ready.append(Outgoing(row, box.decrypt(row.secret_ct)))
        except UndecryptableSecret:
            log.error("webhook secret opens under no key", extra={"endpoint_id": row.endpoint_id})
            record_outcome(uow, row, SendResult(None, 0, "secret unreadable: not sent"), now)
    return ready


def record_outcome(
    uow: UnitOfWork, claimed: ClaimedDelivery, result: SendResult, now: datetime
) -> str:
    """Log the attempt and decide: 'delivered' (a 2xx), 'failed' (retried after the
    schedule's delay), 'disabled' (the endpoint has failed for three days: disabled, its
    open deliveries abandoned, the merchant told by SMS) or 'lost' (the lease was taken
    back meanwhile: only the attempt is logged). Commits."""
    with uow:
        if result.delivered:
            uow.webhooks.note_success(claimed.endpoint_id)
            kept = uow.webhook_deliveries.record_attempt(
                claimed,
                now=now,
                status_code=result.status_code,
                latency_ms=result.latency_ms,
                error=None,
                outcome="delivered",
                next_attempt_at=now,
            )
            uow.commit()
            return "delivered" if kept else "lost"
        endpoint = uow.webhooks.note_failure(claimed.endpoint_id, now)  # locks the endpoint
        attempts = claimed.attempts + 1
        kept = uow.webhook_deliveries.record_attempt(
            claimed,
            now=now,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
            outcome="failed",
            next_attempt_at=now + rules.retry_delay(attempts),
        )
        outcome = "failed" if kept else "lost"
        failing_since = endpoint.failing_since or now
        if kept and endpoint.status == "enabled" and rules.gives_up(now - failing_since):
            _give_up(uow, endpoint.id, claimed.merchant_id, failing_since)
            outcome = "disabled"
        uow.commit()
    return outcome


def _give_up(uow: UnitOfWork, endpoint_id: int, merchant_id: int, since: datetime) -> None:
    uow.webhooks.set_endpoint_status(endpoint_id, reason="failing")
    abandoned = uow.webhook_deliveries.abandon_open(
        endpoint_id, "endpoint disabled: failing for 3 days"
    )
    merchant = uow.merchants.get(merchant_id)
    if merchant is not None:
        queue_sms(
            uow,
            to=merchant.contact_phone,
            template="webhook_endpoint_disabled",
            language="en",
            dedupe_key=f"webhook_disabled:{endpoint_id}:{since.isoformat()}",
            endpoint_id=endpoint_id,
        )
    log.warning(
        "webhook endpoint disabled: failing for 3 days",
        extra={"endpoint_id": endpoint_id, "merchant_id": merchant_id, "abandoned": abandoned},
    )
