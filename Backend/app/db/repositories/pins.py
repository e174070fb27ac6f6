"""PIN credentials and the attempts counted against them."""

from __future__ import annotations

from datetime import datetime

import psycopg2.extensions

from app.domain.models import PinCredential


class PinRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def add(self, user_id: int, pin_hash: str) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "INSERT INTO user_credentials (user_id, pin_hash)"
                " VALUES (%(user_id)s, %(pin_hash)s)",
                {"user_id": user_id, "pin_hash": pin_hash},
            )

    def get_for_update(self, user_id: int) -> PinCredential | None:
        """Lock the user's credential row: concurrent attempts queue behind it."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT user_id, pin_hash, failed_attempts, locked_until, lock_count, reset_required
                FROM user_credentials WHERE user_id = %(user_id)s FOR UPDATE
                """,
                {"user_id": user_id},
            )
            row = cur.fetchone()
        return PinCredential(*row) if row else None

    def attempt_outcome(self, attempt_key: str) -> bool | None:
        """The recorded outcome of an attempt already counted, else None."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT succeeded FROM pin_attempts WHERE attempt_key = %(key)s",
                {"key": attempt_key},
            )
            row = cur.fetchone()
        return row[0] if row else None

    def record_attempt(self, attempt_key: str, user_id: int, succeeded: bool) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO pin_attempts (attempt_key, user_id, succeeded)
                VALUES (%(key)s, %(user_id)s, %(ok)s)
                """,
                {"key": attempt_key, "user_id": user_id, "ok": succeeded},
            )

    def set_state(
        self,
        user_id: int,
        *,
        failed_attempts: int,
        locked_until: datetime | None,
        lock_count: int,
        reset_required: bool = False,
    ) -> None:
        """Write the lockout state (wrong PINs, lock end, locks so far, reset required)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE user_credentials
                SET failed_attempts = %(failed)s, locked_until = %(until)s,
                    lock_count = %(locks)s, reset_required = %(reset)s
                WHERE user_id = %(user_id)s
                """,
                {
                    "failed": failed_attempts,
                    "until": locked_until,
                    "locks": lock_count,
                    "reset": reset_required,
                    "user_id": user_id,
                },
            )

    def set_pin(self, user_id: int, pin_hash: str) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE user_credentials
                SET pin_hash = %(pin_hash)s, failed_attempts = 0, locked_until = NULL,
                    lock_count = 0, reset_required = false, pin_changed_at = now()
                WHERE user_id = %(user_id)s
                """,
                {"pin_hash": pin_hash, "user_id": user_id},
            )

    def get(self, user_id: int) -> PinCredential | None:
        """The user's credential without a lock: for reading its state, never for checking."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT user_id, pin_hash, failed_attempts, locked_until, lock_count, reset_required
                FROM user_credentials WHERE user_id = %(user_id)s
                """,
                {"user_id": user_id},
            )
            row = cur.fetchone()
        return PinCredential(*row) if row else None
