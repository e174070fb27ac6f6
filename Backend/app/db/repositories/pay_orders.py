"""Pay orders, and the merchant API's answers by Idempotency-Key.

Orders move one way (pay_orders_guard refuses the rest); every write here names the
state it expects, so a write that lost a race changes nothing and says so.
"""

from __future__ import annotations

from datetime import datetime

import psycopg2.extensions
from psycopg2.extras import Json

from app.domain.records.pay_orders import OrderFilter, PayOrderRow

_COLUMNS = """id, merchant_id, code, amount, currency, merchant_reference, description,
    status, created_at, expires_at, paid_at, expired_at, canceled_at, paid_amount,
    refunded_amount, payment_transaction_id, partially_refunded_at, refunded_at"""
# The status as shown at %(now)s: an order past its time is expired, written or not.
_SHOWN_STATUS = """CASE WHEN status = 'awaiting_payment' AND expires_at <= %(now)s
    THEN 'expired' ELSE status END"""


class PayOrderRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def insert(
        self,
        *,
        merchant_id: int,
        code: str,
        amount: int,
        merchant_reference: str | None,
        description: str | None,
        created_at: datetime,
        expires_at: datetime,
    ) -> PayOrderRow | None:
        """A new order awaiting payment; None when the code is a live order's (draw
        another: the transaction is still usable)."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                INSERT INTO pay_orders (merchant_id, code, amount, merchant_reference,
                                        description, created_at, expires_at)
                VALUES (%(merchant_id)s, %(code)s, %(amount)s, %(reference)s,
                        %(description)s, %(created_at)s, %(expires_at)s)
                ON CONFLICT (code) WHERE status = 'awaiting_payment' DO NOTHING
                RETURNING {_COLUMNS}
                """,
                {
                    "merchant_id": merchant_id,
                    "code": code,
                    "amount": amount,
                    "reference": merchant_reference,
                    "description": description,
                    "created_at": created_at,
                    "expires_at": expires_at,
                },
            )
            row = cur.fetchone()
        return PayOrderRow(*row) if row else None

    def get(self, order_id: int, *, for_update: bool = False) -> PayOrderRow | None:
        lock = " FOR UPDATE" if for_update else ""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM pay_orders WHERE id = %(id)s{lock}", {"id": order_id}
            )
            row = cur.fetchone()
        return PayOrderRow(*row) if row else None

    def newest_by_code(self, code: str, *, for_update: bool = False) -> PayOrderRow | None:
        """The newest order with this code (a code comes round again only after its
        order left awaiting_payment)."""
        lock = " FOR UPDATE" if for_update else ""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM pay_orders WHERE code = %(code)s"
                f" ORDER BY id DESC LIMIT 1{lock}",
                {"code": code},
            )
            row = cur.fetchone()
        return PayOrderRow(*row) if row else None

    def page(
        self, merchant_id: int, where: OrderFilter, *, now: datetime, limit: int
    ) -> list[PayOrderRow]:
        """Up to `limit` of the merchant's orders, newest first (status as shown at now)."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_COLUMNS} FROM pay_orders
                WHERE merchant_id = %(merchant_id)s
                  AND (%(before)s::bigint IS NULL OR id < %(before)s::bigint)
                  AND (%(status)s::text IS NULL OR {_SHOWN_STATUS} = %(status)s::text)
                  AND (%(from)s::timestamptz IS NULL OR created_at >= %(from)s::timestamptz)
                  AND (%(to)s::timestamptz IS NULL OR created_at < %(to)s::timestamptz)
                ORDER BY id DESC
                LIMIT %(limit)s
                """,
                {
                    "merchant_id": merchant_id,
                    "before": where.before_id,
                    "status": where.status,
                    "from": where.created_from,
                    "to": where.created_to,
                    "now": now,
                    "limit": limit,
                },
            )
            return [PayOrderRow(*row) for row in cur.fetchall()]

    def cancel(self, order_id: int, now: datetime) -> PayOrderRow | None:
        """Cancel an order still awaiting payment and not overdue; None when it is not."""
        return self._one(
            """
            UPDATE pay_orders SET status = 'canceled', canceled_at = %(now)s
            WHERE id = %(id)s AND status = 'awaiting_payment' AND expires_at > %(now)s
            """,
            {"id": order_id, "now": now},
        )

    def mark_paid(
        self, order_id: int, *, transaction_id: int, amount: int, now: datetime
    ) -> PayOrderRow | None:
        """Paid in full by this journal transaction; None unless the order awaits
        payment, is not overdue and `amount` is exactly its amount."""
        return self._one(
            """
            UPDATE pay_orders SET status = 'paid', paid_at = %(now)s, paid_amount = %(amount)s,
                                  payment_transaction_id = %(transaction_id)s
            WHERE id = %(id)s AND status = 'awaiting_payment' AND expires_at > %(now)s
              AND amount = %(amount)s
            """,
            {"id": order_id, "now": now, "amount": amount, "transaction_id": transaction_id},
        )

    def add_refunded(self, order_id: int, amount: int, now: datetime) -> PayOrderRow | None:
        """Count `amount` more as refunded of the order's payment: refunded when that is
        all of it, else partially refunded (the first time stamped); None unless the
        order is paid or partially refunded and has that much left. Lock its row first."""
        return self._one(
            """
            UPDATE pay_orders SET
                refunded_amount = refunded_amount + %(amount)s,
                status = CASE WHEN refunded_amount + %(amount)s = paid_amount
                              THEN 'refunded' ELSE 'partially_refunded' END,
                refunded_at = CASE WHEN refunded_amount + %(amount)s = paid_amount
                                   THEN %(now)s END,
                partially_refunded_at = CASE
                    WHEN refunded_amount + %(amount)s = paid_amount THEN partially_refunded_at
                    ELSE coalesce(partially_refunded_at, %(now)s) END
            WHERE id = %(id)s AND status IN ('paid', 'partially_refunded')
              AND refunded_amount + %(amount)s <= paid_amount
            """,
            {"id": order_id, "amount": amount, "now": now},
        )

    def _one(self, sql: str, params: dict[str, object]) -> PayOrderRow | None:
        with self._conn.cursor() as cur:
            cur.execute(f"{sql} RETURNING {_COLUMNS}", params)
            row = cur.fetchone()
        return PayOrderRow(*row) if row else None

    def expire_due(self, now: datetime, limit: int) -> list[int]:
        """Mark up to `limit` overdue orders expired (skipping rows another transaction
        holds, e.g. one being paid); returns their ids."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                WITH due AS (
                    SELECT id FROM pay_orders
                    WHERE status = 'awaiting_payment' AND expires_at <= %(now)s
                    ORDER BY expires_at LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE pay_orders o SET status = 'expired', expired_at = o.expires_at
                FROM due WHERE o.id = due.id
                RETURNING o.id
                """,
                {"now": now, "limit": limit},
            )
            return [row[0] for row in cur.fetchall()]


class MerchantIdempotencyRepository:
    """Answers by (merchant, Idempotency-Key), written in the effect's transaction."""

    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def claim(self, merchant_id: int, key: str, request_hash: str) -> bool:
        """Take the key for this transaction; False when it is taken. A concurrent claim
        of the same key waits here until the first transaction ends (then False if it
        committed, True if it rolled back)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO merchant_idempotency_keys (merchant_id, idempotency_key, request_hash)
                VALUES (%(merchant_id)s, %(key)s, %(hash)s)
                ON CONFLICT DO NOTHING
                """,
                {"merchant_id": merchant_id, "key": key, "hash": request_hash},
            )
            return cur.rowcount == 1

    def find(self, merchant_id: int, key: str) -> tuple[str, int, dict] | None:
        """(request hash, status, body) of the answer given to this key, or None."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT request_hash, response_status, response_body FROM merchant_idempotency_keys
                WHERE merchant_id = %(merchant_id)s AND idempotency_key = %(key)s
                """,
                {"merchant_id": merchant_id, "key": key},
            )
            row = cur.fetchone()
        return (row[0], row[1], row[2]) if row else None

    def purge(self, before: datetime, limit: int) -> int:
        """Forget up to `limit` answers given before `before`; returns how many."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                DELETE FROM merchant_idempotency_keys k USING (
                    SELECT merchant_id, idempotency_key FROM merchant_idempotency_keys
                    WHERE created_at < %(before)s LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED
                ) old
                WHERE k.merchant_id = old.merchant_id AND k.idempotency_key = old.idempotency_key
                """,
                {"before": before, "limit": limit},
            )
            return cur.rowcount

    def answer(self, merchant_id: int, key: str, status: int, body: dict) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE merchant_idempotency_keys
                SET response_status = %(status)s, response_body = %(body)s
                WHERE merchant_id = %(merchant_id)s AND idempotency_key = %(key)s
                """,
                {"merchant_id": merchant_id, "key": key, "status": status, "body": Json(body)},
            )
