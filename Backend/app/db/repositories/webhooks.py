"""Merchant webhooks: endpoints and events (their deliveries and attempts:
webhook_deliveries.py). Secrets arrive encrypted and leave encrypted; every time is the
caller's `now` (tests travel in time).
"""

from __future__ import annotations

from datetime import datetime

from psycopg2.extensions import connection
from psycopg2.extras import Json

from app.domain.records.webhooks import EndpointRow, EventRow

_ENDPOINT = "id, merchant_id, url, status, disabled_reason, failing_since, created_at"
_EVENT = """id, public_id, merchant_id, type, object_id, payload, created_at,
    acknowledged_at"""


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
        # NO KEY UPDATE: a payment emitting an event (its delivery row references the
        # endpoint, a KEY SHARE lock) never waits on a merchant disabling an endpoint.
        lock = " FOR NO KEY UPDATE" if for_update else ""
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
    ) -> EventRow:
        row = self._one(
            f"""
            INSERT INTO merchant_events
                (public_id, merchant_id, type, object_id, payload, created_at)
            VALUES (%(pid)s, %(m)s, %(type)s, %(obj)s, %(payload)s, %(now)s)
            RETURNING {_EVENT}
            """,
            {
                "pid": public_id,
                "m": merchant_id,
                "type": event_type,
                "obj": object_id,
                "payload": Json(payload),
                "now": now,
            },
        )
        return EventRow(*row)

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

    def latest_events(self, merchant_id: int, limit: int) -> list[EventRow]:
        """The merchant's newest events, newest first."""
        rows = self._all(
            f"""
            SELECT {_EVENT} FROM merchant_events WHERE merchant_id = %(m)s
            ORDER BY id DESC LIMIT %(limit)s
            """,
            {"m": merchant_id, "limit": limit},
        )
        return [EventRow(*row) for row in rows]

    def acknowledge(self, event_id: int, now: datetime) -> EventRow:
        row = self._one(
            f"""UPDATE merchant_events SET acknowledged_at = coalesce(acknowledged_at, %(now)s)
            WHERE id = %(id)s RETURNING {_EVENT}""",
            {"id": event_id, "now": now},
        )
        return EventRow(*row)
