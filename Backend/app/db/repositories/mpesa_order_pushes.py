"""STK pushes merchants asked for, to have an order paid from a customer's phone.

A push's callback is matched ONLY by the CheckoutRequestID M-Pesa gave PayTrace's own
request, under the push's row lock: a second delivery finds it answered.
"""

from __future__ import annotations

from datetime import datetime

import psycopg2.extensions

from app.domain.records.mpesa import OrderPush

_COLUMNS = """id, order_id, phone, amount, status, checkout_request_id, result_code,
    result_desc, created_at, next_check_at"""


class OrderPushRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def add(self, *, order_id: int, phone: str, amount: int, now: datetime) -> OrderPush:
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                INSERT INTO mpesa_order_pushes (order_id, phone, amount, created_at)
                VALUES (%(order)s, %(phone)s, %(amount)s, %(now)s)
                RETURNING {_COLUMNS}
                """,
                {"order": order_id, "phone": phone, "amount": amount, "now": now},
            )
            return OrderPush(*cur.fetchone())

    def payment_in_progress(self, order_id: int, since: datetime) -> bool:
        """Whether an M-Pesa payment of the order is under way since `since`: a push
        queued or on the customer's phone, or a payment M-Pesa is asked to confirm."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT EXISTS (
                    SELECT 1 FROM mpesa_order_pushes
                    WHERE order_id = %(order)s AND status IN ('requested', 'pending')
                      AND created_at >= %(since)s
                ) OR EXISTS (
                    SELECT 1 FROM mpesa_order_payments
                    WHERE order_id = %(order)s AND status = 'confirming'
                      AND received_at >= %(since)s
                )
                """,
                {"order": order_id, "since": since},
            )
            return bool(cur.fetchone()[0])

    def lock_by_checkout(self, checkout_request_id: str) -> OrderPush | None:
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM mpesa_order_pushes"
                " WHERE checkout_request_id = %(v)s FOR UPDATE",
                {"v": checkout_request_id},
            )
            row = cur.fetchone()
        return OrderPush(*row) if row else None

    def sent(self, push_id: int, checkout_request_id: str, check_at: datetime) -> None:
        """M-Pesa prompted the phone (its callback names this CheckoutRequestID); without
        a callback, asked about from check_at."""
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE mpesa_order_pushes SET status = 'pending',"
                " checkout_request_id = %(checkout)s, next_check_at = %(at)s"
                " WHERE id = %(id)s AND status = 'requested'",
                {"id": push_id, "checkout": checkout_request_id[:100], "at": check_at},
            )

    def get(self, push_id: int, *, for_update: bool = False) -> OrderPush | None:
        lock = " FOR UPDATE" if for_update else ""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM mpesa_order_pushes WHERE id = %(id)s{lock}",
                {"id": push_id},
            )
            row = cur.fetchone()
        return OrderPush(*row) if row else None

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[OrderPush]:
        """Pending pushes (no callback yet) whose STK query is due, each leased."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                UPDATE mpesa_order_pushes SET next_check_at = %(lease)s
                WHERE id IN (
                    SELECT id FROM mpesa_order_pushes
                    WHERE status = 'pending' AND next_check_at <= %(now)s
                    ORDER BY next_check_at
                    LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING {_COLUMNS}
                """,
                {"now": now, "lease": lease_until, "limit": limit},
            )
            return [OrderPush(*row) for row in cur.fetchall()]

    def finish(self, push_id: int, *, status: str, code: str | None, desc: str | None) -> None:
        """answered, failed or unknown, once."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_order_pushes
                SET status = %(status)s, result_code = %(code)s, result_desc = %(desc)s
                WHERE id = %(id)s AND status IN ('requested', 'pending')
                """,
                {
                    "id": push_id,
                    "status": status,
                    "code": code[:20] if code else None,
                    "desc": desc[:300] if desc else None,
                },
            )
