"""One-time codes for the REST API, stored as keyed hashes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg2.extensions


@dataclass(frozen=True)
class OtpRow:
    id: int
    phone: str
    purpose: str
    code_hash: str
    attempts: int
    expires_at: datetime
    consumed_at: datetime | None


class OtpRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def add(self, *, phone: str, purpose: str, code_hash: str, expires_at: datetime) -> int:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO api_otps (phone, purpose, code_hash, expires_at)
                VALUES (%(phone)s, %(purpose)s, %(code_hash)s, %(expires_at)s)
                RETURNING id
                """,
                {
                    "phone": phone,
                    "purpose": purpose,
                    "code_hash": code_hash,
                    "expires_at": expires_at,
                },
            )
            return cur.fetchone()[0]

    def newest_for_update(self, phone: str, purpose: str) -> OtpRow | None:
        """The phone's newest code for a purpose, locked: checks of it queue up."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT id, phone, purpose, code_hash, attempts, expires_at, consumed_at
                FROM api_otps WHERE phone = %(phone)s AND purpose = %(purpose)s
                ORDER BY id DESC LIMIT 1
                FOR UPDATE
                """,
                {"phone": phone, "purpose": purpose},
            )
            row = cur.fetchone()
        return OtpRow(*row) if row else None

    def failures_from(self, otp_id: int, address: str) -> int:
        """Wrong tries of this code from one client address."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT failures FROM api_otp_failures"
                " WHERE otp_id = %(id)s AND address = %(address)s",
                {"id": otp_id, "address": address},
            )
            row = cur.fetchone()
        return row[0] if row else 0

    def count_failure(self, otp_id: int, address: str = "") -> None:
        """One more wrong try, in the code's total and in its address's count."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                WITH total AS (
                    UPDATE api_otps SET attempts = attempts + 1 WHERE id = %(id)s
                )
                INSERT INTO api_otp_failures (otp_id, address, failures)
                VALUES (%(id)s, %(address)s, 1)
                ON CONFLICT (otp_id, address)
                DO UPDATE SET failures = api_otp_failures.failures + 1
                """,
                {"id": otp_id, "address": address},
            )

    def consume(self, otp_id: int, now: datetime) -> bool:
        """Mark the code used; False when it was used already (a concurrent request won)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE api_otps SET consumed_at = %(now)s
                WHERE id = %(id)s AND consumed_at IS NULL
                """,
                {"id": otp_id, "now": now},
            )
            return cur.rowcount == 1
