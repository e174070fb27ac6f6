"""Inbound callbacks (M-Pesa's results, AT's delivery reports), kept as they arrived.

A callback is stored and committed before anything acts on it; what processing made
of it is written afterwards, in the transaction that acted (so a credit and its
callback's 'credited' commit together).
"""

from __future__ import annotations

from datetime import datetime

import psycopg2.extensions

from app.domain.records.admin import InboundCallback

_COLUMNS = """id, provider, kind, path, query, content_type, body, verification, reference,
    outcome, detail, received_at, processed_at"""
RECEIVED = "received"


class CallbackRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def record(
        self,
        *,
        provider: str,
        kind: str,
        path: str,
        query: str | None,
        content_type: str | None,
        body: str,
        verification: str,
        outcome: str = RECEIVED,
        detail: str | None = None,
    ) -> int:
        """Store one callback as it arrived; returns its id."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO inbound_callbacks (provider, kind, path, query, content_type, body,
                    verification, outcome, detail, processed_at)
                VALUES (%(provider)s, %(kind)s, %(path)s, %(query)s, %(content_type)s,
                        %(body)s, %(verification)s, %(outcome)s, %(detail)s,
                        CASE WHEN %(outcome)s = 'received' THEN NULL ELSE now() END)
                RETURNING id
                """,
                {
                    "provider": provider,
                    "kind": kind,
                    "path": path[:500],
                    "query": query[:500] if query else None,
                    "content_type": content_type[:200] if content_type else None,
                    "body": body,
                    "verification": verification,
                    "outcome": outcome,
                    "detail": detail[:500] if detail else None,
                },
            )
            return cur.fetchone()[0]

    def set_outcome(
        self,
        callback_id: int,
        outcome: str,
        detail: str | None = None,
        reference: str | None = None,
    ) -> None:
        """What processing made of it (and what it named, once parsed)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE inbound_callbacks
                SET outcome = %(outcome)s, detail = %(detail)s,
                    reference = coalesce(%(reference)s, reference), processed_at = now()
                WHERE id = %(id)s
                """,
                {
                    "id": callback_id,
                    "outcome": outcome[:40],
                    "detail": detail[:500] if detail else None,
                    "reference": reference[:200] if reference else None,
                },
            )

    def get(self, callback_id: int) -> InboundCallback | None:
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM inbound_callbacks WHERE id = %(id)s", {"id": callback_id}
            )
            row = cur.fetchone()
        return InboundCallback(*row) if row else None

    def page(
        self,
        *,
        limit: int,
        before_id: int | None = None,
        provider: str | None = None,
        outcome: str | None = None,
        reference: str | None = None,
    ) -> list[InboundCallback]:
        """Newest first, optionally one provider's, one outcome's or one reference's."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_COLUMNS} FROM inbound_callbacks
                WHERE (%(before)s::bigint IS NULL OR id < %(before)s::bigint)
                  AND (%(provider)s::text IS NULL OR provider = %(provider)s::text)
                  AND (%(outcome)s::text IS NULL OR outcome = %(outcome)s::text)
                  AND (%(reference)s::text IS NULL OR reference = %(reference)s::text)
                ORDER BY id DESC
                LIMIT %(limit)s
                """,
                {
                    "before": before_id,
                    "provider": provider,
                    "outcome": outcome,
                    "reference": reference,
                    "limit": limit,
                },
            )
            return [InboundCallback(*row) for row in cur.fetchall()]

    def unprocessed(
        self, *, provider: str, received_before: datetime, limit: int
    ) -> list[InboundCallback]:
        """Callbacks still 'received' (their processing failed or was cut off), oldest
        first; processing is idempotent, so two workers may both take one."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_COLUMNS} FROM inbound_callbacks
                WHERE outcome = 'received' AND provider = %(provider)s
                  AND received_at < %(before)s AND verification <> 'token_mismatch'
                ORDER BY received_at
                LIMIT %(limit)s
                """,
                {"provider": provider, "before": received_before, "limit": limit},
            )
            return [InboundCallback(*row) for row in cur.fetchall()]

    def reclaim_unmatched(
        self, *, provider: str, kinds: tuple[str, ...], reference: str
    ) -> list[InboundCallback]:
        """Callbacks found 'unknown_request' that named `reference`, set back to
        'received' to be processed again. The UPDATE is the claim: of two callers, one
        gets each callback (a claim cut off before processing is left to the stale
        pass)."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                UPDATE inbound_callbacks
                SET outcome = 'received', detail = NULL, processed_at = NULL
                WHERE outcome = 'unknown_request' AND reference = %(reference)s
                  AND provider = %(provider)s AND kind = ANY(%(kinds)s)
                  AND verification <> 'token_mismatch'
                RETURNING {_COLUMNS}
                """,
                {"provider": provider, "kinds": list(kinds), "reference": reference},
            )
            return sorted((InboundCallback(*row) for row in cur.fetchall()), key=lambda c: c.id)
