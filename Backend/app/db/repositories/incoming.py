"""The incoming watcher's tables: where it stopped on the network (stellar_cursors) and
every payment it saw (stellar_incoming), with what it needs to sort them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg2.extensions


@dataclass(frozen=True)
class IncomingPayment:
    operation_id: str
    tx_hash: str
    from_address: str
    to_address: str
    amount: int  # cents
    outcome: str  # credited | ignored | order_paid | owed_back
    reason: str | None
    transaction_id: int | None
    order_id: int | None = None  # the pay order it named (order_paid, owed_back)


class IncomingRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    # ---- cursors ---------------------------------------------------------------------

    def cursor(self, name: str, *, for_update: bool = False) -> str | None:
        """The stored paging token, or None; for_update locks the row until COMMIT, so
        two watchers never both move the same cursor."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT cursor FROM stellar_cursors WHERE name = %(name)s"
                + (" FOR UPDATE" if for_update else ""),
                {"name": name},
            )
            row = cur.fetchone()
        return row[0] if row else None

    def start_cursor(self, name: str, cursor: str) -> str:
        """Store cursor unless one is stored already; returns the stored one."""
        with self._conn.cursor() as cur:
            cur.execute(
                "INSERT INTO stellar_cursors (name, cursor) VALUES (%(name)s, %(cursor)s)"
                " ON CONFLICT (name) DO NOTHING",
                {"name": name, "cursor": cursor},
            )
        stored = self.cursor(name)
        assert stored is not None
        return stored

    def set_cursor(self, name: str, cursor: str) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE stellar_cursors SET cursor = %(cursor)s, updated_at = now()"
                " WHERE name = %(name)s",
                {"name": name, "cursor": cursor},
            )

    def first_activation_ledger(self) -> int | None:
        """The earliest ledger that applied one of PayTrace's activations: no wallet can
        have been paid before it."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT min(ledger) FROM stellar_transactions"
                " WHERE purpose IN ('activation', 'activations') AND ledger IS NOT NULL"
            )
            return cur.fetchone()[0]

    # ---- sorting ----------------------------------------------------------------------

    def wallet_owners(self, addresses: list[str]) -> dict[str, int]:
        """The PayTrace wallets among addresses: address -> user id."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT stellar_address, user_id FROM wallets"
                " WHERE stellar_address = ANY(%(addresses)s)",
                {"addresses": addresses},
            )
            return dict(cur.fetchall())

    def own_hashes(self, hashes: list[str]) -> set[str]:
        """The hashes among these of envelopes PayTrace signed (saved before submission)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT tx_hash FROM stellar_transactions WHERE tx_hash = ANY(%(hashes)s)",
                {"hashes": hashes},
            )
            return {row[0] for row in cur.fetchall()}

    # ---- incoming payments ------------------------------------------------------------

    def seen(self, operation_id: str) -> bool:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT 1 FROM stellar_incoming WHERE operation_id = %(id)s",
                {"id": operation_id},
            )
            return cur.fetchone() is not None

    def add(self, payment: IncomingPayment) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO stellar_incoming
                    (operation_id, tx_hash, from_address, to_address, amount, transaction_id,
                     outcome, reason, order_id)
                VALUES (%(op)s, %(hash)s, %(from)s, %(to)s, %(amount)s, %(tx)s, %(outcome)s,
                        %(reason)s, %(order)s)
                """,
                {
                    "op": payment.operation_id,
                    "hash": payment.tx_hash,
                    "from": payment.from_address,
                    "to": payment.to_address,
                    "amount": payment.amount,
                    "tx": payment.transaction_id,
                    "outcome": payment.outcome,
                    "reason": payment.reason,
                    "order": payment.order_id,
                },
            )

    def all(self) -> list[IncomingPayment]:
        """Every payment seen, oldest first (operators and tests)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT operation_id, tx_hash, from_address, to_address, amount, outcome,"
                " reason, transaction_id, order_id FROM stellar_incoming"
                " ORDER BY operation_id::numeric"
            )
            return [IncomingPayment(*row) for row in cur.fetchall()]

    def owed_back(self, limit: int) -> list[tuple[IncomingPayment, datetime]]:
        """Payments owed back to their senders, oldest first, with when each was seen
        (an operator's list: docs/stellar.md)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT operation_id, tx_hash, from_address, to_address, amount, outcome,"
                " reason, transaction_id, order_id, created_at FROM stellar_incoming"
                " WHERE outcome = 'owed_back' ORDER BY created_at, operation_id LIMIT %(limit)s",
                {"limit": limit},
            )
            return [(IncomingPayment(*row[:9]), row[9]) for row in cur.fetchall()]
