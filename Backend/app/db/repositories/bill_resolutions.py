"""A stuck bill's one resolution by an operator (migration 0048), and what it reads to
decide one: whether the bill's send reached its rail, and whether a rail's receipt
already ended another bill."""

from __future__ import annotations

import psycopg2.errors
import psycopg2.extensions

from app.domain.records.bills import BillResolutionRow


class ReceiptTaken(Exception):
    """The rail's receipt already resolved another bill."""


class BillResolutionRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def add(self, row: BillResolutionRow) -> None:
        """The bill's one resolution. Raises ReceiptTaken when the receipt resolved
        another bill (the transaction is then aborted)."""
        try:
            with self._conn.cursor() as cur:
                cur.execute(
                    """
                    INSERT INTO bill_resolutions (bill_payment_id, outcome, receipt, grounds,
                                                  reason, transaction_id, created_at)
                    VALUES (%(bill)s, %(outcome)s, %(receipt)s, %(grounds)s, %(reason)s,
                            %(tx)s, %(at)s)
                    """,
                    {
                        "bill": row.bill_payment_id,
                        "outcome": row.outcome,
                        "receipt": row.receipt,
                        "grounds": row.grounds,
                        "reason": row.reason,
                        "tx": row.transaction_id,
                        "at": row.created_at,
                    },
                )
        except psycopg2.errors.UniqueViolation as exc:
            if exc.diag.constraint_name == "bill_resolutions_receipt_key":
                raise ReceiptTaken from exc
            raise

    def get(self, bill_payment_id: int) -> BillResolutionRow | None:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT bill_payment_id, outcome, receipt, grounds, reason, transaction_id,
                       created_at
                FROM bill_resolutions WHERE bill_payment_id = %(id)s
                """,
                {"id": bill_payment_id},
            )
            found = cur.fetchone()
        return BillResolutionRow(*found) if found else None

    def receipt_owner(self, receipt: str) -> str | None:
        """The reference of a bill this receipt (or rail id) already names: delivered
        with it, or given it by the rail; None."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT p.reference FROM bill_payments p
                WHERE p.receipt = %(r)s OR p.rail_request_id = %(r)s
                UNION ALL
                SELECT p.reference FROM bill_resolutions r
                JOIN bill_payments p ON p.id = r.bill_payment_id WHERE r.receipt = %(r)s
                LIMIT 1
                """,
                {"r": receipt},
            )
            found = cur.fetchone()
        return found[0] if found else None

    def send_state(self, reference: str) -> tuple[str, str | None] | None:
        """The status and last error of the outbox row that sends the bill to its rail
        (its dedupe key 'bill:<reference>:send'); None: no such row."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT status, last_error FROM outbox WHERE dedupe_key = %(key)s",
                {"key": send_dedupe_key(reference)},
            )
            found = cur.fetchone()
        return (found[0], found[1]) if found else None


def send_dedupe_key(reference: str) -> str:
    """The outbox dedupe key of the row that sends a bill to its rail."""
    return f"bill:{reference}:send"
