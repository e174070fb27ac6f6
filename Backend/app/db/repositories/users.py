"""Users: identity, profile and language."""

from __future__ import annotations

from datetime import datetime

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from app.domain.models import User
from app.errors import AlreadyRegistered

_COLUMNS = "id, paytrace_id, phone, full_name, role, language, registration_key, created_at"


class PaytraceIdTaken(Exception):
    """The random PayTrace ID collided; the caller draws another."""


class UserRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def get_by_phone(self, phone: str) -> User | None:
        return self._one(f"SELECT {_COLUMNS} FROM users WHERE phone = %(phone)s", phone=phone)

    def get_by_id(self, user_id: int) -> User | None:
        return self._one(f"SELECT {_COLUMNS} FROM users WHERE id = %(id)s", id=user_id)

    def get_by_paytrace_id(self, paytrace_id: str) -> User | None:
        return self._one(
            f"SELECT {_COLUMNS} FROM users WHERE paytrace_id = %(pid)s", pid=paytrace_id
        )

    def get_by_registration_key(self, key: str) -> User | None:
        return self._one(f"SELECT {_COLUMNS} FROM users WHERE registration_key = %(key)s", key=key)

    def add(
        self,
        *,
        paytrace_id: str,
        phone: str,
        full_name: str,
        role: str,
        language: str,
        registration_key: str,
        terms_accepted_at: datetime,
    ) -> User:
        """Insert a user; raises AlreadyRegistered or PaytraceIdTaken."""
        try:
            with self._conn.cursor() as cur:
                cur.execute("SAVEPOINT add_user")
                cur.execute(
                    f"""
                    INSERT INTO users (paytrace_id, phone, full_name, role, language,
                                       registration_key, terms_accepted_at)
                    VALUES (%(paytrace_id)s, %(phone)s, %(full_name)s, %(role)s,
                            %(language)s, %(registration_key)s, %(terms_accepted_at)s)
                    RETURNING {_COLUMNS}
                    """,
                    {
                        "paytrace_id": paytrace_id,
                        "phone": phone,
                        "full_name": full_name,
                        "role": role,
                        "language": language,
                        "registration_key": registration_key,
                        "terms_accepted_at": terms_accepted_at,
                    },
                )
                row = cur.fetchone()
                cur.execute("RELEASE SAVEPOINT add_user")
        except psycopg2.errors.UniqueViolation as exc:
            with self._conn.cursor() as cur:
                cur.execute("ROLLBACK TO SAVEPOINT add_user")
            if exc.diag.constraint_name == "users_paytrace_id_key":
                raise PaytraceIdTaken from exc
            raise AlreadyRegistered("this phone number is already registered") from exc
        return User(*row)

    def get_with_wallet_by_phone(self, phone: str) -> tuple[User, str, str] | None:
        """The user, their Stellar address and its activation status in one round trip."""
        return self.get_with_wallet_by_phones([phone]).get(phone)

    def get_with_wallet_by_phones(self, phones: list[str]) -> dict[str, tuple[User, str, str]]:
        """get_with_wallet_by_phone for several phones in one round trip, by phone (a
        phone with no user is left out): the USSD first hops' read, through a function
        whose plan is kept (migration 0063)."""
        with self._conn.cursor() as cur:
            cur.execute("SELECT * FROM users_with_wallet_by_phones(%(v)s)", {"v": phones})
            rows = cur.fetchall()
        return {row[2]: (User(*row[:-2]), row[-2], row[-1]) for row in rows}

    def get_with_wallet_by_id(self, user_id: int) -> tuple[User, str, str] | None:
        """As get_with_wallet_by_phone, by user id."""
        columns = ", ".join(f"u.{c.strip()}" for c in _COLUMNS.split(","))
        return self._with_wallet(
            f"""
            SELECT {columns}, w.stellar_address, w.activation_status
            FROM users u JOIN wallets w ON w.user_id = u.id
            WHERE u.id = %(v)s
            """,
            user_id,
        )

    def _with_wallet(self, query: str, value: object) -> tuple[User, str, str] | None:
        """One row of the user's columns, then their wallet's address and status."""
        with self._conn.cursor() as cur:
            cur.execute(query, {"v": value})
            row = cur.fetchone()
        return (User(*row[:-2]), row[-2], row[-1]) if row else None

    def set_full_name(self, user_id: int, full_name: str) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE users SET full_name = %(name)s, updated_at = now() WHERE id = %(id)s",
                {"name": full_name, "id": user_id},
            )

    def set_language(self, user_id: int, language: str) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE users SET language = %(language)s, updated_at = now() WHERE id = %(id)s",
                {"language": language, "id": user_id},
            )

    def _one(self, sql: str, **params: object) -> User | None:
        with self._conn.cursor() as cur:
            cur.execute(sql, params)
            row = cur.fetchone()
        return User(*row) if row else None
