"""Wallets: the custodied Stellar account behind each user."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg2.extensions

from app.domain.models import Wallet

_COLUMNS = "id, user_id, currency, stellar_address, stellar_secret_ct, activation_status"


class WalletRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def add(self, *, user_id: int, stellar_address: str, stellar_secret_ct: str) -> Wallet:
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                INSERT INTO wallets (user_id, stellar_address, stellar_secret_ct)
                VALUES (%(user_id)s, %(address)s, %(secret)s)
                RETURNING {_COLUMNS}
                """,
                {"user_id": user_id, "address": stellar_address, "secret": stellar_secret_ct},
            )
            return Wallet(*cur.fetchone())

    def get_by_user(self, user_id: int) -> Wallet | None:
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM wallets WHERE user_id = %(user_id)s",
                {"user_id": user_id},
            )
            row = cur.fetchone()
        return Wallet(*row) if row else None

    def batch_for_rekey(self, after_id: int, limit: int) -> Iterator[Wallet]:
        """Lock the next batch of wallets (by id) whose secret is to be re-encrypted."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_COLUMNS} FROM wallets WHERE id > %(after)s
                ORDER BY id LIMIT %(limit)s FOR UPDATE
                """,
                {"after": after_id, "limit": limit},
            )
            rows = cur.fetchall()
        return (Wallet(*row) for row in rows)

    def set_secret(self, wallet_id: int, stellar_secret_ct: str) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE wallets SET stellar_secret_ct = %(ct)s WHERE id = %(id)s",
                {"ct": stellar_secret_ct, "id": wallet_id},
            )
