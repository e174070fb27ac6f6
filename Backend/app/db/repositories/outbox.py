"""The transactional outbox: effects recorded with the change that causes them."""

from __future__ import annotations

import psycopg2.extensions
from psycopg2.extras import Json


class OutboxRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def add(self, *, kind: str, payload: dict, dedupe_key: str) -> int | None:
        """Queue an effect once per dedupe key; returns its id, or None if queued before."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO outbox (kind, payload, dedupe_key)
                VALUES (%(kind)s, %(payload)s, %(key)s)
                ON CONFLICT (dedupe_key) DO NOTHING
                RETURNING id
                """,
                {"kind": kind, "payload": Json(payload), "key": dedupe_key},
            )
            row = cur.fetchone()
        return row[0] if row else None
