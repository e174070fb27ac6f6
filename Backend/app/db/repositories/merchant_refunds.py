"""Refunds of payments to a merchant's till, and the payments they draw on."""

from __future__ import annotations

from datetime import datetime

import psycopg2.extensions

from app.domain.records.merchants import RefundablePayment, RefundRow

_REFUND_COLUMNS = """
    r.id, r.public_id, r.merchant_id, pt.reference, r.amount, r.reason, r.status,
    rt.reference, r.failure_reason, r.created_at, r.succeeded_at, r.failed_at
"""
_REFUND_FROM = """
    FROM merchant_refunds r
    JOIN journal_transactions pt ON pt.id = r.payment_transaction_id
    LEFT JOIN journal_transactions rt ON rt.id = r.refund_transaction_id
"""


class MerchantRefundRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def payment(
        self, merchant_id: int, reference: str, *, for_update: bool = False
    ) -> RefundablePayment | None:
        """The merchant's payment with this journal reference; for_update locks its row
        (take the ledger accounts' locks first: every refund does, in that order, after
        the order's row for a payment of a pay order)."""
        lock = " FOR UPDATE OF p" if for_update else ""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT p.transaction_id, t.reference, p.payer_user_id, p.amount,
                       p.refunded_amount,
                       EXISTS (SELECT 1 FROM journal_transactions r
                               WHERE r.reverses_id = p.transaction_id),
                       p.order_id
                FROM merchant_payments p
                JOIN journal_transactions t ON t.id = p.transaction_id
                WHERE t.reference = %(reference)s AND p.merchant_id = %(merchant)s{lock}
                """,
                {"reference": reference, "merchant": merchant_id},
            )
            row = cur.fetchone()
        return RefundablePayment(*row) if row else None

    def refunded(self, transaction_id: int) -> int:
        """What has been refunded of the payment made by this journal transaction (0 for
        a transaction that is no payment to a till)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT refunded_amount FROM merchant_payments WHERE transaction_id = %(tx)s",
                {"tx": transaction_id},
            )
            row = cur.fetchone()
        return row[0] if row else 0

    def add_refunded(self, transaction_id: int, amount: int) -> None:
        """Count amount as refunded of the payment (its CHECK refuses more than was paid)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE merchant_payments SET refunded_amount = refunded_amount + %(amount)s"
                " WHERE transaction_id = %(tx)s",
                {"tx": transaction_id, "amount": amount},
            )

    def insert_succeeded(
        self,
        *,
        public_id: str,
        merchant_id: int,
        payment_transaction_id: int,
        amount: int,
        reason: str | None,
        refund_transaction_id: int,
        now: datetime,
    ) -> int:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO merchant_refunds
                    (public_id, merchant_id, payment_transaction_id, amount, reason, status,
                     refund_transaction_id, created_at, succeeded_at)
                VALUES (%(public_id)s, %(merchant)s, %(payment)s, %(amount)s, %(reason)s,
                        'succeeded', %(refund_tx)s, %(now)s, %(now)s)
                RETURNING id
                """,
                {
                    "public_id": public_id,
                    "merchant": merchant_id,
                    "payment": payment_transaction_id,
                    "amount": amount,
                    "reason": reason,
                    "refund_tx": refund_transaction_id,
                    "now": now,
                },
            )
            return cur.fetchone()[0]

    def get(self, merchant_id: int, public_id: str) -> RefundRow | None:
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_REFUND_COLUMNS} {_REFUND_FROM}"
                " WHERE r.public_id = %(public_id)s AND r.merchant_id = %(merchant)s",
                {"public_id": public_id, "merchant": merchant_id},
            )
            row = cur.fetchone()
        return RefundRow(*row) if row else None
