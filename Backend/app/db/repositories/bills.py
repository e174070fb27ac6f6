"""The biller catalogue and bill payments (migration 0024)."""

from __future__ import annotations

from datetime import date, datetime

import psycopg2.errors
import psycopg2.extensions

from app.domain.bills import AccountRule, Biller
from app.domain.records.bills import BillPayment, BillReversalRow


class RefundReferenceTaken(Exception):
    """The biller's refund reference already reversed another bill."""


_BILLER_SQL = """
    SELECT b.id, b.code, b.name, b.category, r.name, r.kind, r.label, r.min_length,
           r.max_length, b.min_amount, b.max_amount, b.fee_kind, b.rail, b.paybill,
           b.network, b.active
    FROM billers b JOIN bill_account_rules r ON r.name = b.account_rule
"""

_PAYMENT_SQL = """
    SELECT p.id, p.reference, p.user_id, p.biller_id, b.code, b.name, b.rail, p.account,
           p.amount, p.fee, p.status, p.channel, p.hold_id, p.hold_day, p.outcome_id,
           p.rail_request_id, p.receipt, p.failure, p.check_after, p.created_at, p.ended_at,
           p.not_found_answers, p.token, p.units
    FROM bill_payments p JOIN billers b ON b.id = p.biller_id
"""


def _biller(row: tuple) -> Biller:
    return Biller(
        id=row[0],
        code=row[1],
        name=row[2],
        category=row[3],
        rule=AccountRule(*row[4:9]),
        min_amount=row[9],
        max_amount=row[10],
        fee_kind=row[11],
        rail=row[12],
        paybill=row[13],
        network=row[14],
        active=row[15],
    )


class BillerRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def active(self) -> list[Biller]:
        """The billers a user can pay, in screen order."""
        with self._conn.cursor() as cur:
            cur.execute(_BILLER_SQL + " WHERE b.active ORDER BY b.position")
            return [_biller(row) for row in cur.fetchall()]

    def get(self, *, code: str | None = None, biller_id: int | None = None) -> Biller | None:
        """A biller by code or id, active or not."""
        with self._conn.cursor() as cur:
            cur.execute(
                _BILLER_SQL + " WHERE b.code = %(code)s OR b.id = %(id)s",
                {"code": code, "id": biller_id},
            )
            row = cur.fetchone()
        return _biller(row) if row else None


class BillPaymentRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def add(
        self,
        *,
        reference: str,
        user_id: int,
        biller_id: int,
        account: str,
        amount: int,
        fee: int,
        channel: str,
        hold_id: int,
        hold_day: date,
        created_at: datetime,
    ) -> BillPayment:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO bill_payments (reference, user_id, biller_id, account, amount,
                                           fee, channel, hold_id, hold_day, created_at)
                VALUES (%(reference)s, %(user_id)s, %(biller_id)s, %(account)s, %(amount)s,
                        %(fee)s, %(channel)s, %(hold_id)s, %(hold_day)s, %(created_at)s)
                """,
                {
                    "reference": reference,
                    "user_id": user_id,
                    "biller_id": biller_id,
                    "account": account,
                    "amount": amount,
                    "fee": fee,
                    "channel": channel,
                    "hold_id": hold_id,
                    "hold_day": hold_day,
                    "created_at": created_at,
                },
            )
        found = self.get(reference)
        assert found is not None
        return found

    def get(
        self, reference: str, *, user_id: int | None = None, for_update: bool = False
    ) -> BillPayment | None:
        """A bill payment by reference (only the user's own when user_id is given);
        for_update locks its row."""
        with self._conn.cursor() as cur:
            cur.execute(
                _PAYMENT_SQL
                + """ WHERE p.reference = %(reference)s
                        AND (%(user_id)s::bigint IS NULL OR p.user_id = %(user_id)s::bigint)"""
                + (" FOR UPDATE OF p" if for_update else ""),
                {"reference": reference, "user_id": user_id},
            )
            row = cur.fetchone()
        return BillPayment(*row) if row else None

    def needing_operator(self, *, stale_before: datetime, limit: int) -> list[BillPayment]:
        """Bills whose money is still held and that the worker will not end by itself:
        `unknown` with nothing left to ask the rail (no check due), or held or unknown
        since before stale_before. Oldest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                _PAYMENT_SQL
                + """ WHERE p.status IN ('held', 'unknown')
                        AND ((p.status = 'unknown' AND p.check_after IS NULL)
                             OR p.created_at < %(stale_before)s)
                      ORDER BY p.created_at, p.id LIMIT %(limit)s""",
                {"stale_before": stale_before, "limit": limit},
            )
            return [BillPayment(*row) for row in cur.fetchall()]

    def by_hold(self, hold_id: int) -> BillPayment | None:
        with self._conn.cursor() as cur:
            cur.execute(_PAYMENT_SQL + " WHERE p.hold_id = %(hold_id)s", {"hold_id": hold_id})
            row = cur.fetchone()
        return BillPayment(*row) if row else None

    def by_rail_request(self, request_id: str) -> str | None:
        """The reference of the payment the rail knows by this id, or None."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT reference FROM bill_payments WHERE rail_request_id = %(id)s",
                {"id": request_id},
            )
            row = cur.fetchone()
        return row[0] if row else None

    def unmatched_unknown(self, *, rail: str, account: str, amount: int) -> str | None:
        """The oldest unknown payment of this rail, account and amount that the rail has
        given no id (its answer was lost), or None, its row locked. A held one is not
        taken: its answer may still be on its way, with an id of its own. One another
        callback is settling is skipped, so that two top-ups of the same phone and amount
        name two payments."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT p.reference FROM bill_payments p JOIN billers b ON b.id = p.biller_id
                WHERE p.status = 'unknown' AND p.rail_request_id IS NULL
                  AND b.rail = %(rail)s
                  AND p.account = %(account)s AND p.amount = %(amount)s
                ORDER BY p.id LIMIT 1
                FOR UPDATE OF p SKIP LOCKED
                """,
                {"rail": rail, "account": account, "amount": amount},
            )
            row = cur.fetchone()
        return row[0] if row else None

    def awaiting_answer(self, *, rail: str, account: str, amount: int) -> bool:
        """True while a held payment of this rail, account and amount has no rail id:
        its send's answer may still be on its way."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT 1 FROM bill_payments p JOIN billers b ON b.id = p.biller_id
                WHERE p.status = 'held' AND p.rail_request_id IS NULL AND b.rail = %(rail)s
                  AND p.account = %(account)s AND p.amount = %(amount)s
                LIMIT 1
                """,
                {"rail": rail, "account": account, "amount": amount},
            )
            return cur.fetchone() is not None

    def due_checks(self, now: datetime, limit: int, *, rail: str) -> list[str]:
        """References of the rail's open payments with a rail id whose check time has
        come."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT p.reference FROM bill_payments p JOIN billers b ON b.id = p.biller_id
                WHERE p.status IN ('held', 'unknown') AND p.check_after <= %(now)s
                  AND p.rail_request_id IS NOT NULL AND b.rail = %(rail)s
                ORDER BY p.check_after LIMIT %(limit)s
                """,
                {"now": now, "limit": limit, "rail": rail},
            )
            return [row[0] for row in cur.fetchall()]

    def status_asked(
        self, payment_id: int, *, conversation_id: str, asked_at: datetime, check_after: datetime
    ) -> None:
        """M-Pesa took a status query about it: its answer may end it; asked again at
        check_after if none does."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO bill_status_queries (conversation_id, bill_payment_id, asked_at)
                VALUES (%(conversation_id)s, %(id)s, %(asked_at)s)
                ON CONFLICT (conversation_id) DO NOTHING
                """,
                {"conversation_id": conversation_id, "id": payment_id, "asked_at": asked_at},
            )
        self._update(payment_id, check_after=check_after)

    def by_status_query(self, conversation_id: str) -> tuple[str, bool] | None:
        """The reference of the payment a status query of PayTrace's was about, and
        whether an answer to it was read already; None for no such query."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT p.reference, q.answered_at IS NOT NULL
                FROM bill_status_queries q JOIN bill_payments p ON p.id = q.bill_payment_id
                WHERE q.conversation_id = %(id)s
                """,
                {"id": conversation_id},
            )
            row = cur.fetchone()
        return (row[0], row[1]) if row else None

    def status_answered(self, conversation_id: str, at: datetime) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE bill_status_queries SET answered_at = %(at)s"
                " WHERE conversation_id = %(id)s AND answered_at IS NULL",
                {"id": conversation_id, "at": at},
            )

    def not_found(self, payment_id: int, check_after: datetime | None) -> int:
        """One more status answer found no such transaction; returns how many so far.
        check_after None: nothing more is asked (it is an operator's)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE bill_payments SET not_found_answers = not_found_answers + 1,
                       check_after = %(check_after)s
                WHERE id = %(id)s RETURNING not_found_answers
                """,
                {"id": payment_id, "check_after": check_after},
            )
            return cur.fetchone()[0]

    def mark_sent(self, payment_id: int, *, request_id: str, check_after: datetime) -> None:
        """The rail took the request under its id: ask it at check_after."""
        self._update(payment_id, rail_request_id=request_id, check_after=check_after)

    def mark_unknown(self, payment_id: int, *, failure: str) -> None:
        self._update(payment_id, status="unknown", failure=failure[:200])

    def check_later(self, payment_id: int, check_after: datetime) -> None:
        self._update(payment_id, check_after=check_after)

    def finish(
        self,
        payment_id: int,
        *,
        status: str,
        outcome_id: int,
        ended_at: datetime,
        request_id: str | None = None,
        receipt: str | None = None,
        failure: str | None = None,
        token: str | None = None,
        units: str | None = None,
    ) -> None:
        """Delivered or failed, with its journal ending; the rail's id kept if it had one."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE bill_payments
                SET status = %(status)s, outcome_id = %(outcome_id)s, ended_at = %(ended_at)s,
                    rail_request_id = coalesce(rail_request_id, %(request_id)s),
                    receipt = %(receipt)s, failure = coalesce(%(failure)s, failure),
                    check_after = NULL, token = %(token)s, units = %(units)s
                WHERE id = %(id)s
                """,
                {
                    "token": token,
                    "units": units,
                    "id": payment_id,
                    "status": status,
                    "outcome_id": outcome_id,
                    "ended_at": ended_at,
                    "request_id": request_id,
                    "receipt": receipt,
                    "failure": failure[:200] if failure else None,
                },
            )

    def add_reversal(self, reversal: BillReversalRow) -> None:
        """The bill's one reversal (the bill_reversals row the guard asks for before
        the bill may be marked reversed). Raises RefundReferenceTaken when the biller's
        refund reference already reversed another bill (the transaction is then aborted)."""
        try:
            with self._conn.cursor() as cur:
                cur.execute(
                    """
                    INSERT INTO bill_reversals (bill_payment_id, transaction_id,
                        refund_reference, reason, refunded, cashback_returned, created_at)
                    VALUES (%(bill)s, %(tx)s, %(refund)s, %(reason)s, %(refunded)s,
                            %(cashback)s, %(at)s)
                    """,
                    {
                        "bill": reversal.bill_payment_id,
                        "tx": reversal.transaction_id,
                        "refund": reversal.refund_reference,
                        "reason": reversal.reason,
                        "refunded": reversal.refunded,
                        "cashback": reversal.cashback_returned,
                        "at": reversal.created_at,
                    },
                )
        except psycopg2.errors.UniqueViolation as exc:
            if exc.diag.constraint_name == "bill_reversals_refund_reference_key":
                raise RefundReferenceTaken from exc
            raise
        self._update(reversal.bill_payment_id, status="reversed")

    def reversal(self, bill_payment_id: int) -> BillReversalRow | None:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT bill_payment_id, transaction_id, refund_reference, reason, refunded,
                       cashback_returned, created_at
                FROM bill_reversals WHERE bill_payment_id = %(id)s
                """,
                {"id": bill_payment_id},
            )
            row = cur.fetchone()
        return BillReversalRow(*row) if row else None

    def refund_reference_used(self, refund_reference: str) -> bool:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT 1 FROM bill_reversals WHERE refund_reference = %(r)s",
                {"r": refund_reference},
            )
            return cur.fetchone() is not None

    def by_outcome(self, transaction_id: int) -> str | None:
        """The reference of the bill a 'bill_payment' journal transaction delivered."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT reference FROM bill_payments WHERE outcome_id = %(tx)s",
                {"tx": transaction_id},
            )
            row = cur.fetchone()
        return row[0] if row else None

    def history(self, user_id: int, *, before_id: int | None, limit: int) -> list[BillPayment]:
        """The user's bill payments, newest first, older than before_id."""
        with self._conn.cursor() as cur:
            cur.execute(
                _PAYMENT_SQL
                + """ WHERE p.user_id = %(user_id)s
                        AND (%(before)s::bigint IS NULL OR p.id < %(before)s::bigint)
                      ORDER BY p.id DESC LIMIT %(limit)s""",
                {"user_id": user_id, "before": before_id, "limit": limit},
            )
            return [BillPayment(*row) for row in cur.fetchall()]

    def with_tokens(self, user_id: int, *, limit: int) -> list[BillPayment]:
        """The user's delivered bills that carry a prepaid token, newest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                _PAYMENT_SQL
                + """ WHERE p.user_id = %(user_id)s AND p.status = 'delivered'
                        AND p.token IS NOT NULL
                      ORDER BY p.id DESC LIMIT %(limit)s""",
                {"user_id": user_id, "limit": limit},
            )
            return [BillPayment(*row) for row in cur.fetchall()]

    def _update(self, payment_id: int, **fields: object) -> None:
        # Column names come from the methods above, never from input.
        sets = ", ".join(f"{name} = %({name})s" for name in fields)
        with self._conn.cursor() as cur:
            cur.execute(
                f"UPDATE bill_payments SET {sets} WHERE id = %(id)s", {"id": payment_id, **fields}
            )
