"""The incoming watcher's tables: where it stopped on the network (stellar_cursors) and
every payment it saw (stellar_incoming), with what it needs to sort them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg2.extensions

from app.domain.records.stellar_refunds import RefundRow


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

    def wallets_after(self, wallet_id: int, limit: int) -> list[tuple[int, str]]:
        """(wallet id, address) of wallets created after wallet_id, oldest first: the
        accounts the watcher follows, picked up as they are created."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT id, stellar_address FROM wallets WHERE id > %(after)s"
                " AND activation_status <> 'failed' ORDER BY id LIMIT %(limit)s",
                {"after": wallet_id, "limit": limit},
            )
            return [(row[0], row[1]) for row in cur.fetchall()]

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
        """The hashes among these of envelopes PayTrace signed (saved before submission):
        settlements and activations, and refunds of payments owed back."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT tx_hash FROM stellar_transactions WHERE tx_hash = ANY(%(hashes)s)"
                " UNION SELECT tx_hash FROM stellar_refunds WHERE tx_hash = ANY(%(hashes)s)",
                {"hashes": hashes},
            )
            return {row[0] for row in cur.fetchall()}

    # ---- incoming payments ------------------------------------------------------------

    def lock_operation(self, operation_id: str) -> None:
        """Hold, until this transaction ends, the lock on one operation id: a payment seen
        in two accounts' streams (sender's and payee's) is recorded by one of them; a
        transaction-level lock, so it is safe behind PgBouncer."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%(id)s, 19))",
                {"id": f"stellar-incoming:{operation_id}"},
            )

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

    def owed_back(self, limit: int) -> list[tuple[IncomingPayment, datetime, RefundRow]]:
        """Payments owed back and not yet sent back (their refund pending, signed or
        failed), oldest first, with when each was seen (an operator's list)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT i.operation_id, i.tx_hash, i.from_address, i.to_address, i.amount,"
                " i.outcome, i.reason, i.transaction_id, i.order_id, i.created_at,"
                f" {_REFUND_COLUMNS_OF_R} FROM stellar_incoming i"
                " JOIN stellar_refunds r ON r.operation_id = i.operation_id"
                " WHERE i.outcome = 'owed_back' AND r.status <> 'sent'"
                " ORDER BY i.created_at, i.operation_id LIMIT %(limit)s",
                {"limit": limit},
            )
            return [
                (IncomingPayment(*row[:9]), row[9], RefundRow(*row[10:])) for row in cur.fetchall()
            ]

    # ---- refunds of payments owed back -------------------------------------------------

    def add_refund(self, operation_id: str, to_address: str, stroops: int) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "INSERT INTO stellar_refunds (operation_id, to_address, stroops)"
                " VALUES (%(op)s, %(to)s, %(stroops)s)",
                {"op": operation_id, "to": to_address, "stroops": stroops},
            )

    def add_merchant_refund(self, merchant_refund_id: int, to_address: str, stroops: int) -> int:
        """The on-chain refund of a merchant's refund (one each); returns its id."""
        with self._conn.cursor() as cur:
            cur.execute(
                "INSERT INTO stellar_refunds (merchant_refund_id, to_address, stroops)"
                " VALUES (%(refund)s, %(to)s, %(stroops)s) RETURNING id",
                {"refund": merchant_refund_id, "to": to_address, "stroops": stroops},
            )
            return cur.fetchone()[0]

    def open_refund(self) -> RefundRow | None:
        """The oldest refund still to send (pending) or to resend (signed)."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_REFUND_COLUMNS} FROM stellar_refunds"
                " WHERE status IN ('pending', 'signed') ORDER BY created_at, id LIMIT 1"
            )
            row = cur.fetchone()
        return RefundRow(*row) if row else None

    def refund(self, refund_id: int) -> RefundRow | None:
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_REFUND_COLUMNS} FROM stellar_refunds WHERE id = %(id)s",
                {"id": refund_id},
            )
            row = cur.fetchone()
        return RefundRow(*row) if row else None

    def refund_signed(
        self, refund_id: int, *, envelope_xdr: str, tx_hash: str, max_time: datetime
    ) -> bool:
        """Save a pending refund's envelope before it is submitted; False when it is not
        pending any more (another refunder got there first)."""
        return self._refund_moved(
            "status = 'signed', envelope_xdr = %(xdr)s, tx_hash = %(hash)s,"
            " max_time = %(max_time)s, last_error = NULL",
            "pending",
            {"id": refund_id, "xdr": envelope_xdr, "hash": tx_hash, "max_time": max_time},
        )

    def refund_sent(self, refund_id: int, ledger: int) -> bool:
        return self._refund_moved(
            "status = 'sent', ledger = %(ledger)s, last_error = NULL",
            "signed",
            {"id": refund_id, "ledger": ledger},
        )

    def refund_failed(self, refund_id: int, error: str) -> bool:
        return self._refund_moved(
            "status = 'failed', last_error = %(error)s",
            "signed",
            {"id": refund_id, "error": error},
        )

    def refund_dead(self, refund_id: int, error: str) -> bool:
        """A signed envelope the network says can never apply: pending again, to be
        signed anew (its hash forgotten: it will never be on a ledger)."""
        return self._refund_moved(
            "status = 'pending', envelope_xdr = NULL, tx_hash = NULL, max_time = NULL,"
            " last_error = %(error)s",
            "signed",
            {"id": refund_id, "error": error},
        )

    def _refund_moved(self, assignments: str, expected: str, params: dict) -> bool:
        with self._conn.cursor() as cur:
            cur.execute(
                f"UPDATE stellar_refunds SET {assignments}, updated_at = now()"
                " WHERE id = %(id)s AND status = %(expected)s",
                {**params, "expected": expected},
            )
            return cur.rowcount == 1


_REFUND_COLUMNS = (
    "id, operation_id, merchant_refund_id, to_address, stroops, status, envelope_xdr, tx_hash,"
    " max_time, ledger, last_error"
)
_REFUND_COLUMNS_OF_R = ", ".join(f"r.{column.strip()}" for column in _REFUND_COLUMNS.split(","))
