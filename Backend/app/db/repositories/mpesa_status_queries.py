"""Transaction status queries PayTrace made, under the ids Daraja gave them.

A status answer names the query it answers by its ConversationID; that id, stored
here when PayTrace asked, is the only way an answer finds its withdrawal. Each query
is answered once: a second answer to it is a replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg2.extensions


@dataclass(frozen=True)
class StatusQuery:
    id: int
    withdrawal_id: int | None  # or order_payment_id: one of the two
    conversation_id: str
    originator_conversation_id: str | None
    asked_at: datetime
    answered_at: datetime | None
    outcome: str | None
    order_payment_id: int | None = None


_COLUMNS = """id, withdrawal_id, conversation_id, originator_conversation_id, asked_at,
    answered_at, outcome, order_payment_id"""


class StatusQueryRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def add(
        self,
        *,
        conversation_id: str,
        originator_conversation_id: str | None,
        withdrawal_id: int | None = None,
        order_payment_id: int | None = None,
    ) -> None:
        """Record a query Daraja accepted about a withdrawal or an order payment (its
        answer comes under conversation_id)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO mpesa_status_queries (withdrawal_id, order_payment_id,
                                                  conversation_id, originator_conversation_id)
                VALUES (%(withdrawal)s, %(order_payment)s, %(conversation)s, %(originator)s)
                ON CONFLICT (conversation_id) DO NOTHING
                """,
                {
                    "withdrawal": withdrawal_id,
                    "order_payment": order_payment_id,
                    "conversation": conversation_id[:100],
                    "originator": (originator_conversation_id or "")[:100] or None,
                },
            )

    def lock(self, conversation_id: str) -> StatusQuery | None:
        """The query this ConversationID names, locked (answers to it queue)."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM mpesa_status_queries"
                " WHERE conversation_id = %(v)s FOR UPDATE",
                {"v": conversation_id},
            )
            row = cur.fetchone()
        return StatusQuery(*row) if row else None

    def find(self, conversation_id: str) -> StatusQuery | None:
        """The query this ConversationID names, unlocked (which service answers it)."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM mpesa_status_queries WHERE conversation_id = %(v)s",
                {"v": conversation_id},
            )
            row = cur.fetchone()
        return StatusQuery(*row) if row else None

    def answered(self, query_id: int, outcome: str) -> None:
        """The query's answer was acted on (once)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE mpesa_status_queries SET answered_at = now(), outcome = %(outcome)s"
                " WHERE id = %(id)s AND answered_at IS NULL",
                {"id": query_id, "outcome": outcome[:40]},
            )
