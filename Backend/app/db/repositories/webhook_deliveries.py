"""Merchant webhook deliveries (one per event and endpoint) and their attempts: queued
with an event, claimed under a lease by the worker, settled by each attempt's outcome.
Every time is the caller's `now` (tests travel in time).
"""

from __future__ import annotations

from datetime import datetime

from psycopg2.extensions import connection

from app.domain.records.webhooks import AttemptRow, ClaimedDelivery, DeliveryRow, EventRow

_OPEN = "('pending', 'failed')"  # a delivery still to be made

# Due, not leased, its endpoint enabled, and no earlier event of the same object still
# to be delivered to the same endpoint: the ordering rule (docs/merchants.md). Rows
# another worker is claiming are skipped, never waited for.
_CLAIM = f"""
    WITH due AS (
        SELECT d.id FROM merchant_webhook_deliveries d
        JOIN merchant_webhook_endpoints e ON e.id = d.endpoint_id AND e.status = 'enabled'
        WHERE d.status IN {_OPEN} AND d.next_attempt_at <= %(now)s
          AND (d.lease_until IS NULL OR d.lease_until <= %(now)s)
          AND NOT EXISTS (
              SELECT 1 FROM merchant_webhook_deliveries earlier
              WHERE earlier.endpoint_id = d.endpoint_id AND earlier.object_id = d.object_id
                AND earlier.event_id < d.event_id AND earlier.status IN {_OPEN})
        ORDER BY d.next_attempt_at, d.id
        LIMIT %(limit)s
        FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE merchant_webhook_deliveries d
    SET lease_token = %(token)s, lease_until = %(lease_until)s
    FROM due, merchant_webhook_endpoints e, merchant_events ev
    WHERE d.id = due.id AND e.id = d.endpoint_id AND ev.id = d.event_id
    RETURNING d.id, d.lease_token, d.attempts, e.id, e.merchant_id, e.url, e.secret_ct,
              ev.public_id, ev.type, ev.created_at, ev.payload
"""


class WebhookDeliveryRepository:
    def __init__(self, conn: connection) -> None:
        self._conn = conn

    def _all(self, sql: str, params: dict) -> list[tuple]:
        with self._conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def abandon_open(self, endpoint_id: int, error: str) -> int:
        """Every delivery still to be made to the endpoint: abandoned; returns how many."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                UPDATE merchant_webhook_deliveries
                SET status = 'abandoned', lease_token = NULL, lease_until = NULL,
                    last_error = coalesce(last_error, %(error)s)
                WHERE endpoint_id = %(id)s AND status IN {_OPEN}
                """,
                {"id": endpoint_id, "error": error},
            )
            return cur.rowcount

    def queue(self, event: EventRow, now: datetime, endpoint_id: int | None = None) -> int:
        """A delivery of the event to each enabled endpoint of its merchant (or to the
        one named); one already there is queued again unless it is being sent. Returns
        how many are queued."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO merchant_webhook_deliveries
                    (event_id, endpoint_id, object_id, next_attempt_at, created_at)
                SELECT %(event)s, e.id, %(obj)s, %(now)s, %(now)s
                FROM merchant_webhook_endpoints e
                WHERE e.merchant_id = %(m)s AND e.status = 'enabled'
                  AND (%(endpoint)s::bigint IS NULL OR e.id = %(endpoint)s::bigint)
                ON CONFLICT (event_id, endpoint_id) DO UPDATE
                SET status = 'pending', attempts = 0, next_attempt_at = %(now)s,
                    delivered_at = NULL
                WHERE merchant_webhook_deliveries.lease_until IS NULL
                   OR merchant_webhook_deliveries.lease_until <= %(now)s
                """,
                {
                    "event": event.id,
                    "obj": event.object_id,
                    "now": now,
                    "m": event.merchant_id,
                    "endpoint": endpoint_id,
                },
            )
            return cur.rowcount

    def claim(
        self, *, now: datetime, limit: int, token: str, lease_until: datetime
    ) -> list[ClaimedDelivery]:
        rows = self._all(
            _CLAIM, {"now": now, "limit": limit, "token": token, "lease_until": lease_until}
        )
        return [ClaimedDelivery(*row) for row in rows]

    def record_attempt(
        self,
        claimed: ClaimedDelivery,
        *,
        now: datetime,
        status_code: int | None,
        latency_ms: int,
        error: str | None,
        outcome: str,
        next_attempt_at: datetime,
    ) -> bool:
        """Log the attempt and, if the lease is still this worker's, set the delivery's
        outcome (delivered or failed) and release it. False: the lease was lost."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO merchant_webhook_attempts
                    (delivery_id, attempted_at, status_code, latency_ms, error)
                VALUES (%(id)s, %(now)s, %(code)s, %(ms)s, %(error)s)
                """,
                {
                    "id": claimed.id,
                    "now": now,
                    "code": status_code,
                    "ms": latency_ms,
                    "error": error,
                },
            )
            cur.execute(
                """
                UPDATE merchant_webhook_deliveries
                SET status = %(outcome)s, attempts = attempts + 1,
                    next_attempt_at = %(next)s, lease_token = NULL, lease_until = NULL,
                    last_attempt_at = %(now)s, last_status_code = %(code)s,
                    last_latency_ms = %(ms)s, last_error = %(error)s,
                    delivered_at = CASE WHEN %(outcome)s = 'delivered' THEN %(now)s END
                WHERE id = %(id)s AND lease_token = %(token)s
                """,
                {
                    "id": claimed.id,
                    "token": claimed.lease_token,
                    "outcome": outcome,
                    "next": next_attempt_at,
                    "now": now,
                    "code": status_code,
                    "ms": latency_ms,
                    "error": error,
                },
            )
            return cur.rowcount == 1

    def deliveries_of(self, event_id: int) -> list[DeliveryRow]:
        """The event's deliveries, each with its attempts, oldest first."""
        rows = self._all(
            """
            SELECT d.id, d.endpoint_id, e.url, d.status, d.attempts, d.next_attempt_at,
                   d.last_status_code, d.last_latency_ms, d.last_error, d.delivered_at
            FROM merchant_webhook_deliveries d
            JOIN merchant_webhook_endpoints e ON e.id = d.endpoint_id
            WHERE d.event_id = %(event)s ORDER BY d.id
            """,
            {"event": event_id},
        )
        attempts: dict[int, list[AttemptRow]] = {}
        for row in self._all(
            """
            SELECT a.delivery_id, a.attempted_at, a.status_code, a.latency_ms, a.error
            FROM merchant_webhook_attempts a
            JOIN merchant_webhook_deliveries d ON d.id = a.delivery_id
            WHERE d.event_id = %(event)s ORDER BY a.id
            """,
            {"event": event_id},
        ):
            attempts.setdefault(row[0], []).append(AttemptRow(*row[1:]))
        return [DeliveryRow(*row, log=tuple(attempts.get(row[0], ()))) for row in rows]
