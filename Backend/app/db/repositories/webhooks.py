"""Merchant webhooks: endpoints, events, deliveries and attempts. Secrets arrive
encrypted and leave encrypted; every time is the caller's `now` (tests travel in time).
"""

from __future__ import annotations

from datetime import datetime

from psycopg2.extensions import connection
from psycopg2.extras import Json

from app.domain.records.webhooks import (
    AttemptRow,
    ClaimedDelivery,
    DeliveryRow,
    EndpointRow,
    EventRow,
)

_ENDPOINT = "id, merchant_id, url, status, disabled_reason, failing_since, created_at"
_EVENT = """id, public_id, merchant_id, type, object_id, payload, created_at,
    acknowledged_at"""
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


class WebhookRepository:
    def __init__(self, conn: connection) -> None:
        self._conn = conn

    def _one(self, sql: str, params: dict) -> tuple | None:
        with self._conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()

    def _all(self, sql: str, params: dict) -> list[tuple]:
        with self._conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    # ---- endpoints ------------------------------------------------------------------

    def insert_endpoint(
        self, *, merchant_id: int, url: str, secret_ct: str, key: str, request_hash: str
    ) -> EndpointRow:
        row = self._one(
            f"""
            INSERT INTO merchant_webhook_endpoints
                (merchant_id, url, secret_ct, idempotency_key, request_hash)
            VALUES (%(m)s, %(url)s, %(ct)s, %(key)s, %(hash)s)
            RETURNING {_ENDPOINT}
            """,
            {"m": merchant_id, "url": url, "ct": secret_ct, "key": key, "hash": request_hash},
        )
        return EndpointRow(*row)

    def endpoint_by_key(self, merchant_id: int, key: str) -> tuple[EndpointRow, str, str] | None:
        """The endpoint a create with this key made, its request hash and secret."""
        row = self._one(
            f"""SELECT {_ENDPOINT}, request_hash, secret_ct FROM merchant_webhook_endpoints
            WHERE merchant_id = %(m)s AND idempotency_key = %(key)s""",
            {"m": merchant_id, "key": key},
        )
        return (EndpointRow(*row[:-2]), row[-2], row[-1]) if row else None

    def endpoints_of(self, merchant_id: int) -> list[EndpointRow]:
        rows = self._all(
            f"SELECT {_ENDPOINT} FROM merchant_webhook_endpoints WHERE merchant_id = %(m)s"
            " ORDER BY id",
            {"m": merchant_id},
        )
        return [EndpointRow(*row) for row in rows]

    def endpoint(
        self, merchant_id: int, endpoint_id: int, *, for_update: bool = False
    ) -> EndpointRow | None:
        """One of the merchant's endpoints (another merchant's is None, as absent)."""
        lock = " FOR UPDATE" if for_update else ""
        row = self._one(
            f"SELECT {_ENDPOINT} FROM merchant_webhook_endpoints"
            f" WHERE id = %(id)s AND merchant_id = %(m)s{lock}",
            {"id": endpoint_id, "m": merchant_id},
        )
        return EndpointRow(*row) if row else None

    def set_endpoint_status(self, endpoint_id: int, *, reason: str | None) -> EndpointRow:
        """Disable with a reason, or enable (reason None: failing_since cleared too)."""
        row = self._one(
            f"""
            UPDATE merchant_webhook_endpoints
            SET status = CASE WHEN %(reason)s::text IS NULL THEN 'enabled' ELSE 'disabled' END,
                disabled_reason = %(reason)s::text,
                failing_since = CASE WHEN %(reason)s::text IS NULL THEN NULL
                                     ELSE failing_since END
            WHERE id = %(id)s RETURNING {_ENDPOINT}
            """,
            {"id": endpoint_id, "reason": reason},
        )
        return EndpointRow(*row)

    def note_failure(self, endpoint_id: int, now: datetime) -> EndpointRow:
        """Lock the endpoint and start its failing clock if it is not running."""
        row = self._one(
            f"""
            UPDATE merchant_webhook_endpoints
            SET failing_since = coalesce(failing_since, %(now)s)
            WHERE id = %(id)s RETURNING {_ENDPOINT}
            """,
            {"id": endpoint_id, "now": now},
        )
        return EndpointRow(*row)

    def note_success(self, endpoint_id: int) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE merchant_webhook_endpoints SET failing_since = NULL"
                " WHERE id = %(id)s AND failing_since IS NOT NULL",
                {"id": endpoint_id},
            )

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

    def batch_for_rekey(self, after_id: int, limit: int) -> list[tuple[int, str]]:
        return [
            (row[0], row[1])
            for row in self._all(
                "SELECT id, secret_ct FROM merchant_webhook_endpoints WHERE id > %(after)s"
                " ORDER BY id LIMIT %(limit)s FOR UPDATE",
                {"after": after_id, "limit": limit},
            )
        ]

    def set_secret(self, endpoint_id: int, secret_ct: str) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE merchant_webhook_endpoints SET secret_ct = %(ct)s WHERE id = %(id)s",
                {"ct": secret_ct, "id": endpoint_id},
            )

    # ---- events ---------------------------------------------------------------------

    def insert_event(
        self,
        *,
        public_id: str,
        merchant_id: int,
        event_type: str,
        object_id: str | None,
        payload: dict,
        now: datetime,
        key: str | None = None,
    ) -> EventRow:
        row = self._one(
            f"""
            INSERT INTO merchant_events
                (public_id, merchant_id, type, object_id, payload, idempotency_key, created_at)
            VALUES (%(pid)s, %(m)s, %(type)s, %(obj)s, %(payload)s, %(key)s, %(now)s)
            RETURNING {_EVENT}
            """,
            {
                "pid": public_id,
                "m": merchant_id,
                "type": event_type,
                "obj": object_id,
                "payload": Json(payload),
                "key": key,
                "now": now,
            },
        )
        return EventRow(*row)

    def event_by_key(self, merchant_id: int, key: str) -> EventRow | None:
        row = self._one(
            f"SELECT {_EVENT} FROM merchant_events"
            " WHERE merchant_id = %(m)s AND idempotency_key = %(key)s",
            {"m": merchant_id, "key": key},
        )
        return EventRow(*row) if row else None

    def event(self, merchant_id: int, public_id: str) -> EventRow | None:
        """One of the merchant's events (another merchant's is None, as absent)."""
        row = self._one(
            f"SELECT {_EVENT} FROM merchant_events"
            " WHERE public_id = %(pid)s AND merchant_id = %(m)s",
            {"pid": public_id, "m": merchant_id},
        )
        return EventRow(*row) if row else None

    def events_page(
        self, merchant_id: int, *, after_id: int | None, limit: int, unacknowledged: bool
    ) -> list[EventRow]:
        """Oldest first, after `after_id`."""
        rows = self._all(
            f"""
            SELECT {_EVENT} FROM merchant_events
            WHERE merchant_id = %(m)s AND id > coalesce(%(after)s::bigint, 0)
              AND (NOT %(unack)s OR acknowledged_at IS NULL)
            ORDER BY id LIMIT %(limit)s
            """,
            {"m": merchant_id, "after": after_id, "unack": unacknowledged, "limit": limit},
        )
        return [EventRow(*row) for row in rows]

    def acknowledge(self, event_id: int, now: datetime) -> EventRow:
        row = self._one(
            f"""UPDATE merchant_events SET acknowledged_at = coalesce(acknowledged_at, %(now)s)
            WHERE id = %(id)s RETURNING {_EVENT}""",
            {"id": event_id, "now": now},
        )
        return EventRow(*row)

    # ---- deliveries -----------------------------------------------------------------

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
