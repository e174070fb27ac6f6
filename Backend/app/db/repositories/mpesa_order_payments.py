"""Payments from M-Pesa toward pay orders (C2B), by M-Pesa's TransID.

A confirmation inserts its row once (the TransID is unique: a replay finds it); the
checker claims the rows whose status query is due; M-Pesa's answer settles a row under
its lock, taken after the order's (the order's row first, then this, then accounts).
"""

from __future__ import annotations

from datetime import datetime

import psycopg2.extensions

from app.domain.records.mpesa import OrderPayment

_COLUMNS = """id, source, trans_id, bill_ref, amount, msisdn, payer_name, status, order_id,
    transaction_id, not_found, result_desc, received_at, next_check_at, settled_at"""


class OrderPaymentRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def add(
        self,
        *,
        trans_id: str,
        bill_ref: str,
        amount: int,
        msisdn: str | None,
        payer_name: str | None,
        order_id: int | None,
        received_at: datetime,
    ) -> OrderPayment | None:
        """Record a confirmed C2B payment toward `order_id` (the order its account number
        named when it arrived, if any), to be checked at once; None when its TransID was
        recorded before (a replay)."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                INSERT INTO mpesa_order_payments (source, trans_id, bill_ref, amount, msisdn,
                    payer_name, order_id, received_at, next_check_at)
                VALUES ('c2b', %(trans_id)s, %(bill_ref)s, %(amount)s, %(msisdn)s,
                        %(payer_name)s, %(order_id)s, %(at)s, %(at)s)
                ON CONFLICT (trans_id) DO NOTHING
                RETURNING {_COLUMNS}
                """,
                {
                    "trans_id": trans_id,
                    "bill_ref": bill_ref,
                    "amount": amount,
                    "msisdn": msisdn,
                    "payer_name": payer_name,
                    "order_id": order_id,
                    "at": received_at,
                },
            )
            row = cur.fetchone()
        return OrderPayment(*row) if row else None

    def get(self, payment_id: int, *, for_update: bool = False) -> OrderPayment | None:
        lock = " FOR UPDATE" if for_update else ""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM mpesa_order_payments WHERE id = %(id)s{lock}",
                {"id": payment_id},
            )
            row = cur.fetchone()
        return OrderPayment(*row) if row else None

    def by_trans_id(self, trans_id: str) -> OrderPayment | None:
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM mpesa_order_payments WHERE trans_id = %(t)s",
                {"t": trans_id},
            )
            row = cur.fetchone()
        return OrderPayment(*row) if row else None

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[OrderPayment]:
        """Payments being confirmed whose status query is due, each pushed back to
        lease_until so that no other worker takes it meanwhile."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                UPDATE mpesa_order_payments SET next_check_at = %(lease)s
                WHERE id IN (
                    SELECT id FROM mpesa_order_payments
                    WHERE status = 'confirming' AND next_check_at <= %(now)s
                    ORDER BY next_check_at
                    LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING {_COLUMNS}
                """,
                {"now": now, "lease": lease_until, "limit": limit},
            )
            return [OrderPayment(*row) for row in cur.fetchall()]

    def check_at(self, payment_id: int, at: datetime, *, not_found: bool = False) -> None:
        """Ask M-Pesa again at `at` (counting one more "no such payment" answer)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_order_payments
                SET next_check_at = %(at)s, not_found = not_found + %(more)s
                WHERE id = %(id)s AND status = 'confirming'
                """,
                {"id": payment_id, "at": at, "more": int(not_found)},
            )

    def finish(
        self,
        payment_id: int,
        *,
        status: str,
        desc: str,
        now: datetime,
        order_id: int | None = None,
        transaction_id: int | None = None,
    ) -> None:
        """End the payment: paid (with its order and movement), not_found or review."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_order_payments
                SET status = %(status)s, result_desc = %(desc)s, settled_at = %(now)s,
                    next_check_at = NULL, order_id = coalesce(%(order)s, order_id),
                    transaction_id = %(tx)s,
                    not_found = not_found + (%(status)s = 'not_found')::int
                WHERE id = %(id)s AND status = 'confirming'
                """,
                {
                    "id": payment_id,
                    "status": status,
                    "desc": desc[:300],
                    "now": now,
                    "order": order_id,
                    "tx": transaction_id,
                },
            )

    def in_review(self, limit: int = 100) -> list[OrderPayment]:
        """Payments an operator must act on, oldest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM mpesa_order_payments WHERE status = 'review'"
                " ORDER BY id LIMIT %(limit)s",
                {"limit": limit},
            )
            return [OrderPayment(*row) for row in cur.fetchall()]
