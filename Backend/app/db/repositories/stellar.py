"""Signed Stellar envelopes, kept before they are submitted."""

from __future__ import annotations

import json
from datetime import datetime

import psycopg2.extensions

from app.domain.records.settlement import SignedEnvelope

_COLUMNS = "id, outbox_id, source, sequence, tx_hash, envelope_xdr, max_time, status, ledger"


class StellarRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def live_for(self, outbox_id: int) -> SignedEnvelope | None:
        """The outbox row's envelope that may still apply (or has), if any."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_COLUMNS} FROM stellar_transactions
                WHERE outbox_id = %(outbox_id)s AND status IN ('signed', 'applied')
                """,
                {"outbox_id": outbox_id},
            )
            row = cur.fetchone()
        return SignedEnvelope(*row) if row else None

    def add(
        self,
        *,
        outbox_id: int,
        source: str,
        sequence: int,
        tx_hash: str,
        envelope_xdr: str,
        max_time: datetime,
    ) -> SignedEnvelope:
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                INSERT INTO stellar_transactions
                    (outbox_id, source, sequence, tx_hash, envelope_xdr, max_time)
                VALUES (%(outbox_id)s, %(source)s, %(sequence)s, %(hash)s, %(xdr)s, %(max_time)s)
                RETURNING {_COLUMNS}
                """,
                {
                    "outbox_id": outbox_id,
                    "source": source,
                    "sequence": sequence,
                    "hash": tx_hash,
                    "xdr": envelope_xdr,
                    "max_time": max_time,
                },
            )
            return SignedEnvelope(*cur.fetchone())

    def settle(
        self,
        envelope_id: int,
        status: str,
        *,
        ledger: int | None = None,
        result_codes: dict | None = None,
    ) -> None:
        """Record what became of a signed envelope: applied, failed or dead."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE stellar_transactions
                SET status = %(status)s, ledger = %(ledger)s, result_codes = %(codes)s,
                    updated_at = now()
                WHERE id = %(id)s
                """,
                {
                    "id": envelope_id,
                    "status": status,
                    "ledger": ledger,
                    "codes": json.dumps(result_codes) if result_codes else None,
                },
            )

    def set_wallet_status(self, address: str, status: str) -> None:
        """The wallet's on-chain status: pending | active | failed."""
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE wallets SET activation_status = %(status)s"
                " WHERE stellar_address = %(address)s",
                {"status": status, "address": address},
            )

    def wallet_secret(self, address: str) -> str | None:
        """The encrypted seed of the wallet at address (decrypted by the caller, to sign)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT stellar_secret_ct FROM wallets WHERE stellar_address = %(address)s",
                {"address": address},
            )
            row = cur.fetchone()
        return row[0] if row else None
