"""Signed-in API devices (sessions) and their rotating refresh tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg2.extensions
import psycopg2.extras

psycopg2.extras.register_uuid()


@dataclass(frozen=True)
class RefreshTokenRow:
    token_hash: str
    session_id: uuid.UUID
    user_id: int
    expires_at: datetime
    used_at: datetime | None
    session_revoked_at: datetime | None


class ApiSessionRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def open(self, session_id: uuid.UUID, user_id: int) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "INSERT INTO api_sessions (id, user_id) VALUES (%(id)s, %(user_id)s)",
                {"id": session_id, "user_id": user_id},
            )

    def add_refresh_token(
        self, *, token_hash: str, session_id: uuid.UUID, expires_at: datetime
    ) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO api_refresh_tokens (token_hash, session_id, expires_at)
                VALUES (%(hash)s, %(session_id)s, %(expires_at)s)
                """,
                {"hash": token_hash, "session_id": session_id, "expires_at": expires_at},
            )

    def refresh_token_for_update(self, token_hash: str) -> RefreshTokenRow | None:
        """The token and its session, both locked: two uses of one token queue up."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT t.token_hash, t.session_id, s.user_id, t.expires_at, t.used_at,
                       s.revoked_at
                FROM api_refresh_tokens t JOIN api_sessions s ON s.id = t.session_id
                WHERE t.token_hash = %(hash)s
                FOR UPDATE
                """,
                {"hash": token_hash},
            )
            row = cur.fetchone()
        return RefreshTokenRow(*row) if row else None

    def mark_used(self, token_hash: str, now: datetime) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE api_refresh_tokens SET used_at = %(now)s WHERE token_hash = %(hash)s",
                {"hash": token_hash, "now": now},
            )

    def revoke(self, session_id: uuid.UUID, reason: str, now: datetime) -> bool:
        """End a session (every refresh token of it); False if it had ended already."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE api_sessions SET revoked_at = %(now)s, revoked_reason = %(reason)s
                WHERE id = %(id)s AND revoked_at IS NULL
                """,
                {"id": session_id, "reason": reason, "now": now},
            )
            return cur.rowcount == 1

    def is_active(self, session_id: uuid.UUID) -> bool:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT revoked_at IS NULL FROM api_sessions WHERE id = %(id)s",
                {"id": session_id},
            )
            row = cur.fetchone()
        return bool(row and row[0])
