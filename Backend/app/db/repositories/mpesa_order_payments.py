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
    transaction_id, not_found, result_desc, received_at, next_check_at, settled_at,
    owed_transaction_id, returned_transaction_id, reversal_conversation_id,
    reversal_originator_id"""


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
        source: str = "c2b",
    ) -> OrderPayment | None:
        """Record a confirmed C2B payment (or a paid STK push: `source` 'stk') toward
        `order_id` (the order its account number named when it arrived, if any), to be
        checked at once; None when its TransID was recorded before (a replay)."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                INSERT INTO mpesa_order_payments (source, trans_id, bill_ref, amount, msisdn,
                    payer_name, order_id, received_at, next_check_at)
                VALUES (%(source)s, %(trans_id)s, %(bill_ref)s, %(amount)s, %(msisdn)s,
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
                    "source": source,
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
        """Payments being confirmed, or being returned (their reversal taken by M-Pesa),
        whose status query is due, each pushed back to lease_until so that no other
        worker takes it meanwhile."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                UPDATE mpesa_order_payments SET next_check_at = %(lease)s
                WHERE id IN (
                    SELECT id FROM mpesa_order_payments
                    WHERE status IN ('confirming', 'returning') AND next_check_at <= %(now)s
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
                WHERE id = %(id)s AND status IN ('confirming', 'returning')
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

    def owe_back(
        self,
        payment_id: int,
        *,
        owed_transaction_id: int,
        desc: str,
        now: datetime,
        status: str = "returning",
    ) -> None:
        """The payment could not be taken: owed back, its reversal queued (returning) or
        left to an operator (review)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_order_payments
                SET status = %(status)s, owed_transaction_id = %(tx)s, result_desc = %(desc)s,
                    settled_at = %(now)s, next_check_at = NULL
                WHERE id = %(id)s AND status = 'confirming'
                """,
                {
                    "id": payment_id,
                    "tx": owed_transaction_id,
                    "desc": desc[:300],
                    "now": now,
                    "status": status,
                },
            )

    def reversal_taken(
        self, payment_id: int, *, conversation_id: str, originator_id: str, check_at: datetime
    ) -> None:
        """M-Pesa took the reversal under these ids; ask about it at check_at."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_order_payments
                SET reversal_conversation_id = %(conversation)s,
                    reversal_originator_id = %(originator)s, next_check_at = %(at)s
                WHERE id = %(id)s AND status = 'returning' AND reversal_originator_id IS NULL
                """,
                {
                    "id": payment_id,
                    "conversation": conversation_id[:100],
                    "originator": originator_id[:100],
                    "at": check_at,
                },
            )

    def end_return(
        self,
        payment_id: int,
        *,
        status: str,
        desc: str,
        returned_transaction_id: int | None = None,
    ) -> None:
        """A return ends: returned (M-Pesa confirmed the reversal) or review."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_order_payments
                SET status = %(status)s, returned_transaction_id = %(tx)s,
                    result_desc = %(desc)s, next_check_at = NULL
                WHERE id = %(id)s AND status = 'returning'
                """,
                {
                    "id": payment_id,
                    "status": status,
                    "tx": returned_transaction_id,
                    "desc": desc[:300],
                },
            )

    def by_reversal(self, originator_id: str) -> OrderPayment | None:
        """The payment whose reversal M-Pesa took under this OriginatorConversationID."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM mpesa_order_payments WHERE reversal_originator_id = %(v)s",
                {"v": originator_id},
            )
            row = cur.fetchone()
        return OrderPayment(*row) if row else None

    def held(self, limit: int = 100) -> list[OrderPayment]:
        """Payments an operator watches, oldest first: in review (acts on them) and
        being returned (owed back until M-Pesa confirms the reversal)."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM mpesa_order_payments"
                " WHERE status IN ('review', 'returning') ORDER BY id LIMIT %(limit)s",
                {"limit": limit},
            )
            return [OrderPayment(*row) for row in cur.fetchall()]
