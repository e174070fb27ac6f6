"""STK pushes merchants asked for, to have an order paid from a customer's phone.

A push's callback is matched ONLY by the CheckoutRequestID M-Pesa gave PayTrace's own
request, under the push's row lock: a second delivery finds it answered.
"""

from __future__ import annotations

from datetime import datetime

import psycopg2.extensions

from app.domain.records.mpesa import OrderPush

_COLUMNS = """id, order_id, phone, amount, status, checkout_request_id, result_code,
    result_desc, created_at"""


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

    def lock_by_checkout(self, checkout_request_id: str) -> OrderPush | None:
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM mpesa_order_pushes"
                " WHERE checkout_request_id = %(v)s FOR UPDATE",
                {"v": checkout_request_id},
            )
            row = cur.fetchone()
        return OrderPush(*row) if row else None

    def sent(self, push_id: int, checkout_request_id: str) -> None:
        """M-Pesa prompted the phone (its callback names this CheckoutRequestID)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE mpesa_order_pushes SET status = 'pending',"
                " checkout_request_id = %(checkout)s"
                " WHERE id = %(id)s AND status = 'requested'",
                {"id": push_id, "checkout": checkout_request_id[:100]},
            )

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
