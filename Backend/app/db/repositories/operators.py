"""Operators of the console: their credentials and sign-in state."""

from __future__ import annotations

from datetime import datetime

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from app.domain.records.console import Operator
from app.errors import OperatorExists

_COLUMNS = """id, email, role, password_hash, totp_secret_ct, totp_last_step, disabled,
    failed_attempts, last_failed_at, last_sign_in_at, created_at, credentials_changed_at"""


class OperatorRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def add(self, *, email: str, role: str, password_hash: str, totp_secret_ct: str) -> Operator:
        """Insert an operator; raises OperatorExists for an email already taken."""
        try:
            with self._conn.cursor() as cur:
                cur.execute(
                    f"""
                    INSERT INTO operators (email, role, password_hash, totp_secret_ct)
                    VALUES (%(email)s, %(role)s, %(password_hash)s, %(totp_secret_ct)s)
                    RETURNING {_COLUMNS}
                    """,
                    {
                        "email": email,
                        "role": role,
                        "password_hash": password_hash,
                        "totp_secret_ct": totp_secret_ct,
                    },
                )
                return Operator(*cur.fetchone())
        except psycopg2.errors.UniqueViolation as exc:
            raise OperatorExists("an operator with this email exists") from exc

    def by_email(self, email: str, *, for_update: bool = False) -> Operator | None:
        lock = " FOR UPDATE" if for_update else ""
        return self._one(f"SELECT {_COLUMNS} FROM operators WHERE email = %(v)s{lock}", email)

    def by_id(self, operator_id: int, *, for_update: bool = False) -> Operator | None:
        lock = " FOR UPDATE" if for_update else ""
        return self._one(f"SELECT {_COLUMNS} FROM operators WHERE id = %(v)s{lock}", operator_id)

    def all(self) -> list[Operator]:
        """Every operator, in the order they were created."""
        with self._conn.cursor() as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM operators ORDER BY id")
            return [Operator(*row) for row in cur.fetchall()]

    def lock_enabled_admins(self) -> list[int]:
        """The ids of the enabled admins, locked: two admins demoting each other at once
        queue here, and the second sees the first's change."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT id FROM operators WHERE role = 'admin' AND NOT disabled"
                " ORDER BY id FOR UPDATE"
            )
            return [row[0] for row in cur.fetchall()]

    def set_role(self, operator_id: int, role: str) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE operators SET role = %(role)s WHERE id = %(id)s",
                {"role": role, "id": operator_id},
            )

    def set_disabled_by_id(self, operator_id: int, disabled: bool) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE operators SET disabled = %(d)s WHERE id = %(id)s",
                {"d": disabled, "id": operator_id},
            )

    def _one(self, sql: str, value: object) -> Operator | None:
        with self._conn.cursor() as cur:
            cur.execute(sql, {"v": value})
            row = cur.fetchone()
        return Operator(*row) if row else None

    def record_failure(self, operator_id: int, at: datetime) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE operators SET failed_attempts = failed_attempts + 1,"
                " last_failed_at = %(at)s WHERE id = %(id)s",
                {"at": at, "id": operator_id},
            )

    def record_sign_in(self, operator_id: int, at: datetime, totp_step: int) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE operators SET failed_attempts = 0, last_failed_at = NULL,"
                " last_sign_in_at = %(at)s, totp_last_step = %(step)s WHERE id = %(id)s",
                {"at": at, "step": totp_step, "id": operator_id},
            )

    def set_disabled(self, email: str, disabled: bool) -> bool:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE operators SET disabled = %(d)s WHERE email = %(email)s",
                {"d": disabled, "email": email},
            )
            return cur.rowcount == 1

    def batch_for_rekey(self, after_id: int, limit: int) -> list[tuple[int, str]]:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT id, totp_secret_ct FROM operators WHERE id > %(after)s"
                " ORDER BY id LIMIT %(limit)s FOR UPDATE",
                {"after": after_id, "limit": limit},
            )
            return [(row[0], row[1]) for row in cur.fetchall()]

    def set_totp_secret(self, operator_id: int, totp_secret_ct: str) -> None:
        """The same seed under another key (make rotate-keys): nothing else changes."""
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE operators SET totp_secret_ct = %(ct)s WHERE id = %(id)s",
                {"ct": totp_secret_ct, "id": operator_id},
            )

    def replace_totp_secret(self, operator_id: int, totp_secret_ct: str) -> None:
        """A new second factor (a lost phone): the old seed's codes and the sessions
        opened before now end (credentials_changed_at)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE operators SET totp_secret_ct = %(ct)s, totp_last_step = NULL,"
                " credentials_changed_at = now() WHERE id = %(id)s",
                {"ct": totp_secret_ct, "id": operator_id},
            )
