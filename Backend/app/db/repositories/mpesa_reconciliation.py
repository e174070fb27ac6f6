"""M-Pesa reconciliation: what PayTrace moved through M-Pesa in a period (deposits,
withdrawals and merchant payouts, pay orders' paybill and STK payments and their
reversals, B2B bills), and the stored reports (migrations 0013, 0038), each day's
versions append-only."""

from __future__ import annotations

import json
from datetime import date, datetime

import psycopg2.extensions

from app.db import advisory
from app.domain.mpesa_reconciliation import Difference, Movement
from app.domain.records.mpesa import StoredItem, StoredMpesaReport

_REPORT = (
    "SELECT id, day, version, source, started_at, finished_at, matched, differences, totals"
    " FROM mpesa_reconciliation_reports"
)


# (direction, reference, status, amount, created_at, receipt, conversation_id, record,
# booked): app.domain.mpesa_reconciliation.Movement's fields. booked NULL: the status
# says (completed).
_MOVEMENTS = """
    SELECT 'in', reference, status, amount, created_at, receipt, checkout_request_id,
           'deposit', NULL::boolean
    FROM mpesa_deposits
    WHERE created_at >= %(start)s AND created_at < %(end)s
    UNION ALL
    SELECT 'out', reference, status, amount, created_at, receipt, conversation_id,
           CASE WHEN merchant_id IS NULL THEN 'withdrawal'
                WHEN EXISTS (SELECT 1 FROM merchant_refunds r WHERE r.withdrawal_id = w.id)
                THEN 'order_refund'
                ELSE 'merchant_payout' END,
           NULL::boolean
    FROM mpesa_withdrawals w
    WHERE created_at >= %(start)s AND created_at < %(end)s
    UNION ALL
    -- A push settled by STK query may carry its CheckoutRequestID as trans_id.
    SELECT 'in', trans_id, status, amount, received_at, trans_id,
           CASE WHEN source = 'stk' THEN trans_id END, 'order_payment',
           transaction_id IS NOT NULL OR owed_transaction_id IS NOT NULL
    FROM mpesa_order_payments
    WHERE received_at >= %(start)s AND received_at < %(end)s
    UNION ALL
    SELECT 'out', p.trans_id, p.status, p.amount,
           coalesce(returned.created_at, p.settled_at, p.received_at), NULL,
           p.reversal_conversation_id, 'order_reversal', p.status = 'returned'
    FROM mpesa_order_payments p
    LEFT JOIN journal_transactions returned ON returned.id = p.returned_transaction_id
    WHERE p.owed_transaction_id IS NOT NULL
      AND p.received_at >= %(start)s AND p.received_at < %(end)s
    UNION ALL
    SELECT 'out', b.reference, b.status, b.amount, b.created_at, b.receipt, NULL,
           'bill_payment', b.status IN ('delivered', 'reversed')
    FROM bill_payments b
    JOIN billers r ON r.id = b.biller_id AND r.rail = 'daraja_b2b'
    WHERE b.created_at >= %(start)s AND b.created_at < %(end)s
"""


class MpesaReconciliationRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def movements(self, start: datetime, end: datetime) -> list[Movement]:
        """Everything PayTrace recorded moving through M-Pesa in [start, end), any
        status. A payout's or bill's amount is what M-Pesa pays (the fee stays with
        PayTrace). An order payment is booked when paid and when owed back; the
        reversal of one owed back (asked, done or refused) is read with the payment,
        by when M-Pesa's payment arrived, and dated when the ledger returned it."""
        with self._conn.cursor() as cur:
            cur.execute(_MOVEMENTS, {"start": start, "end": end})
            return [Movement(*row) for row in cur.fetchall()]

    def add_report(
        self,
        *,
        day: date,
        source: str,
        started_at: datetime,
        finished_at: datetime,
        matched: int,
        differences: list[Difference],
        totals: dict,
    ) -> tuple[int, int]:
        """Store the day's next version with its items; returns (id, version). Runs of
        the same day queue on a transaction lock, so versions never collide."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT pg_advisory_xact_lock(%(key)s)",
                {"key": advisory.MPESA_RECONCILIATION_DAY + day.toordinal()},
            )
            cur.execute(
                """
                INSERT INTO mpesa_reconciliation_reports
                    (day, version, source, started_at, finished_at, matched, differences,
                     totals)
                SELECT %(day)s, coalesce(max(version), 0) + 1, %(source)s, %(started)s,
                       %(finished)s, %(matched)s, %(differences)s, %(totals)s
                FROM mpesa_reconciliation_reports WHERE day = %(day)s
                RETURNING id, version
                """,
                {
                    "day": day,
                    "source": source,
                    "started": started_at,
                    "finished": finished_at,
                    "matched": matched,
                    "differences": len(differences),
                    "totals": json.dumps(totals),
                },
            )
            report_id, version = cur.fetchone()
            if differences:
                cur.executemany(
                    """
                    INSERT INTO mpesa_reconciliation_items
                        (report_id, kind, direction, paytrace_reference, paytrace_status,
                         paytrace_amount, paytrace_at, mpesa_receipt, mpesa_amount, mpesa_at,
                         mpesa_reference, mpesa_counterparty, delta, record)
                    VALUES (%(report)s, %(kind)s, %(direction)s, %(p_ref)s, %(p_status)s,
                            %(p_amount)s, %(p_at)s, %(receipt)s, %(m_amount)s, %(m_at)s,
                            %(m_ref)s, %(party)s, %(delta)s, %(record)s)
                    """,
                    [_item_params(report_id, difference) for difference in differences],
                )
        return report_id, version

    def report(self, day: date | None = None) -> StoredMpesaReport | None:
        """The latest version of `day`'s report, or without a day that of the most
        recent day reconciled."""
        with self._conn.cursor() as cur:
            if day is None:
                cur.execute(_REPORT + " ORDER BY day DESC, version DESC LIMIT 1")
            else:
                cur.execute(
                    _REPORT + " WHERE day = %(day)s ORDER BY version DESC LIMIT 1", {"day": day}
                )
            row = cur.fetchone()
        return StoredMpesaReport(*row) if row else None

    def latest_per_day(self, first: date) -> list[StoredMpesaReport]:
        """The latest version of each day's report from first on, newest day first."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT DISTINCT ON (day) id, day, version, source, started_at, finished_at,"
                " matched, differences, totals FROM mpesa_reconciliation_reports"
                " WHERE day >= %(first)s ORDER BY day DESC, version DESC",
                {"first": first},
            )
            return [StoredMpesaReport(*row) for row in cur.fetchall()]

    def items(self, report_id: int, limit: int) -> list[StoredItem]:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT id, kind, direction, paytrace_reference, paytrace_status,
                       paytrace_amount, paytrace_at, mpesa_receipt, mpesa_amount, mpesa_at,
                       mpesa_reference, mpesa_counterparty, delta, record
                FROM mpesa_reconciliation_items WHERE report_id = %(report)s
                ORDER BY id LIMIT %(limit)s
                """,
                {"report": report_id, "limit": limit},
            )
            return [StoredItem(*row) for row in cur.fetchall()]


def _item_params(report_id: int, difference: Difference) -> dict:
    movement, entry = difference.movement, difference.entry
    return {
        "report": report_id,
        "kind": difference.kind,
        "direction": difference.direction,
        "p_ref": movement.reference if movement else None,
        "p_status": movement.status if movement else None,
        "p_amount": movement.amount if movement else None,
        "p_at": movement.created_at if movement else None,
        "receipt": entry.receipt[:40] if entry else None,
        "m_amount": entry.amount if entry else None,
        "m_at": entry.completed_at if entry else None,
        "m_ref": entry.reference[:100] if entry else None,
        "party": entry.counterparty[:20] if entry else None,
        "delta": difference.delta,
        "record": movement.record if movement else None,
    }
