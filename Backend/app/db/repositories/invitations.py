"""Invitation SMS counted per sender and Nairobi day, across every number."""

from __future__ import annotations

from datetime import date

import psycopg2.extensions


class InvitationRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def take(self, sender_user_id: int, day: date, limit: int) -> bool:
        """Count one more invitation of the sender's day unless `limit` are counted.

        One statement: the upsert's row lock queues concurrent invitations of one
        sender, so the cap is exact. False (nothing counted) at the limit.
        """
        if limit <= 0:
            return False
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO invitation_counts (sender_user_id, day, sent)
                VALUES (%(sender)s, %(day)s, 1)
                ON CONFLICT (sender_user_id, day)
                DO UPDATE SET sent = invitation_counts.sent + 1
                WHERE invitation_counts.sent < %(limit)s
                RETURNING sent
                """,
                {"sender": sender_user_id, "day": day, "limit": limit},
            )
            return cur.fetchone() is not None
