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
                       p.order_id, p.channel, p.rail_receipt, p.rail_payer
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

    def insert_pending(
        self,
        *,
        public_id: str,
        merchant_id: int,
        payment_transaction_id: int,
        amount: int,
        reason: str | None,
        now: datetime,
        withdrawal_id: int | None = None,
        hold_transaction_id: int | None = None,
    ) -> int:
        """A refund going out through a rail: its B2C withdrawal (M-Pesa), or its hold
        (Stellar: the stellar_refunds row names the refund)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO merchant_refunds
                    (public_id, merchant_id, payment_transaction_id, amount, reason, status,
                     created_at, withdrawal_id, hold_transaction_id)
                VALUES (%(public_id)s, %(merchant)s, %(payment)s, %(amount)s, %(reason)s,
                        'pending', %(now)s, %(withdrawal)s, %(hold)s)
                RETURNING id
                """,
                {
                    "public_id": public_id,
                    "merchant": merchant_id,
                    "payment": payment_transaction_id,
                    "amount": amount,
                    "reason": reason,
                    "now": now,
                    "withdrawal": withdrawal_id,
                    "hold": hold_transaction_id,
                },
            )
            return cur.fetchone()[0]

    def pending_of(
        self,
        *,
        withdrawal_id: int | None = None,
        refund_id: int | None = None,
        for_update: bool = True,
    ) -> tuple | None:
        """The refund a B2C withdrawal carries (or with this id), its row locked unless
        for_update is False, with its payment's order: (refund id, merchant id, payment
        transaction, order id, amount, status, public id); None when there is none (a
        merchant's payout)."""
        where = "r.withdrawal_id = %(v)s" if withdrawal_id is not None else "r.id = %(v)s"
        value = withdrawal_id if withdrawal_id is not None else refund_id
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT r.id, r.merchant_id, r.payment_transaction_id, p.order_id, r.amount,
                       r.status, r.public_id
                FROM merchant_refunds r
                JOIN merchant_payments p ON p.transaction_id = r.payment_transaction_id
                WHERE {where}{" FOR UPDATE OF r" if for_update else ""}
                """,
                {"v": value},
            )
            return cur.fetchone()

    def succeed(self, refund_id: int, *, refund_transaction_id: int, now: datetime) -> None:
        """A pending refund's money reached the payer (once: a pending row only)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE merchant_refunds SET status = 'succeeded',"
                " refund_transaction_id = %(tx)s, succeeded_at = %(now)s"
                " WHERE id = %(id)s AND status = 'pending'",
                {"id": refund_id, "tx": refund_transaction_id, "now": now},
            )
            assert cur.rowcount == 1, "only a pending refund succeeds"

    def fail(self, refund_id: int, *, reason: str, now: datetime) -> None:
        """A pending refund's money did not go out: failed, with why."""
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE merchant_refunds SET status = 'failed', failure_reason = %(reason)s,"
                " failed_at = %(now)s WHERE id = %(id)s AND status = 'pending'",
                {"id": refund_id, "reason": (reason or "failed")[:200], "now": now},
            )
            assert cur.rowcount == 1, "only a pending refund fails"

    def get(self, merchant_id: int, public_id: str) -> RefundRow | None:
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_REFUND_COLUMNS} {_REFUND_FROM}"
                " WHERE r.public_id = %(public_id)s AND r.merchant_id = %(merchant)s",
                {"public_id": public_id, "merchant": merchant_id},
            )
            row = cur.fetchone()
        return RefundRow(*row) if row else None
