"""Requests to pay: a merchant's ask of a PayTrace user to pay one of its orders.

Every write names the state it expects (pending), so a write that lost a race changes
nothing; the trigger pay_requests_guard refuses the rest.
"""

from __future__ import annotations

from datetime import datetime

import psycopg2.extensions

from app.domain.records.pay_requests import PayRequestRow, PendingPayRequest

_COLUMNS = """id, order_id, merchant_id, payer_user_id, phone, status, created_at, expires_at,
    approved_at, declined_at, expired_at, canceled_at"""


class PayRequestRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def insert(
        self,
        *,
        order_id: int,
        merchant_id: int,
        payer_user_id: int,
        phone: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> PayRequestRow | None:
        """A new pending request; None when the order has a pending one already."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                INSERT INTO pay_requests (order_id, merchant_id, payer_user_id, phone,
                                          created_at, expires_at)
                VALUES (%(order)s, %(merchant)s, %(payer)s, %(phone)s, %(created)s,
                        %(expires)s)
                ON CONFLICT (order_id) WHERE status = 'pending' DO NOTHING
                RETURNING {_COLUMNS}
                """,
                {
                    "order": order_id,
                    "merchant": merchant_id,
                    "payer": payer_user_id,
                    "phone": phone,
                    "created": created_at,
                    "expires": expires_at,
                },
            )
            row = cur.fetchone()
        return PayRequestRow(*row) if row else None

    def get(self, request_id: int, *, for_update: bool = False) -> PayRequestRow | None:
        lock = " FOR UPDATE" if for_update else ""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM pay_requests WHERE id = %(id)s{lock}", {"id": request_id}
            )
            row = cur.fetchone()
        return PayRequestRow(*row) if row else None

    def for_order(self, order_id: int) -> list[PayRequestRow]:
        """The order's requests, newest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM pay_requests WHERE order_id = %(order)s ORDER BY id DESC",
                {"order": order_id},
            )
            return [PayRequestRow(*row) for row in cur.fetchall()]

    def pending_for(self, payer_user_id: int, now: datetime) -> PendingPayRequest | None:
        """The payer's newest request still payable at `now` (its order awaiting payment
        and not overdue), with what the dial shows of it."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT r.id, o.code, m.display_name, o.amount, o.description,
                       o.merchant_reference
                FROM pay_requests r
                JOIN pay_orders o ON o.id = r.order_id
                JOIN merchants m ON m.id = r.merchant_id
                WHERE r.payer_user_id = %(payer)s AND r.status = 'pending'
                  AND o.status = 'awaiting_payment' AND o.expires_at > %(now)s
                ORDER BY r.id DESC LIMIT 1
                """,
                {"payer": payer_user_id, "now": now},
            )
            row = cur.fetchone()
        return PendingPayRequest(*row) if row else None

    def decline(self, request_id: int, now: datetime) -> PayRequestRow | None:
        """Declined; None unless it is pending and not overdue."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                UPDATE pay_requests SET status = 'declined', declined_at = %(now)s
                WHERE id = %(id)s AND status = 'pending' AND expires_at > %(now)s
                RETURNING {_COLUMNS}
                """,
                {"id": request_id, "now": now},
            )
            row = cur.fetchone()
        return PayRequestRow(*row) if row else None

    def settle_paid(self, order_id: int, payer_user_id: int, now: datetime) -> None:
        """The order is paid: its pending request is approved when its payer paid it,
        else canceled (nothing is left to ask)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE pay_requests SET
                    status = CASE WHEN payer_user_id = %(payer)s THEN 'approved'
                                  ELSE 'canceled' END,
                    approved_at = CASE WHEN payer_user_id = %(payer)s THEN %(now)s END,
                    canceled_at = CASE WHEN payer_user_id = %(payer)s THEN NULL
                                       ELSE %(now)s END
                WHERE order_id = %(order)s AND status = 'pending'
                """,
                {"order": order_id, "payer": payer_user_id, "now": now},
            )

    def cancel_for_order(self, order_id: int, now: datetime) -> None:
        """The order is canceled: so is its pending request."""
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE pay_requests SET status = 'canceled', canceled_at = %(now)s"
                " WHERE order_id = %(order)s AND status = 'pending'",
                {"order": order_id, "now": now},
            )

    def expire_for_orders(self, order_ids: list[int]) -> None:
        """The orders expired: so do their pending requests, at the orders' time."""
        if not order_ids:
            return
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE pay_requests SET status = 'expired', expired_at = expires_at"
                " WHERE order_id = ANY(%(orders)s) AND status = 'pending'",
                {"orders": order_ids},
            )
