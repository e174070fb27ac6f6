"""Withdrawals to M-Pesa (B2C): the hold, the payment asked of M-Pesa, its checks and
how it ended. A withdrawal's money comes from a user's wallet or, for a merchant's
payout, from the merchant's account (exactly one of user_id, merchant_id).

A withdrawal is locked (`FOR UPDATE`) before the ledger accounts its payout or release
touches, always in that order: a result callback, a status answer and the worker's
check of one withdrawal queue on its row, and the later ones see what the first did.
"""

from __future__ import annotations

from datetime import date, datetime

import psycopg2.extensions

from app.domain.records.mpesa import OPEN_WITHDRAWAL, Withdrawal

_COLUMNS = """id, reference, user_id, phone, amount, fee, channel, originator_conversation_id,
    conversation_id, status, hold_id, outcome_id, hold_day, result_code, result_desc, receipt,
    check_after, status_queries, not_found, query_conversation_id, created_at, updated_at,
    merchant_id"""
OPEN = OPEN_WITHDRAWAL


class WithdrawalRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def add(
        self,
        *,
        reference: str,
        user_id: int | None,
        merchant_id: int | None = None,
        phone: str,
        amount: int,
        fee: int,
        channel: str,
        originator_conversation_id: str,
        hold_id: int,
        hold_day: date,
        check_after: datetime,
    ) -> Withdrawal:
        """Record a withdrawal whose hold was just posted (same transaction): from a
        user's wallet (user_id) or a merchant's account (merchant_id)."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                INSERT INTO mpesa_withdrawals (reference, user_id, merchant_id, phone, amount,
                    fee, channel, originator_conversation_id, hold_id, hold_day, check_after)
                VALUES (%(reference)s, %(user_id)s, %(merchant_id)s, %(phone)s, %(amount)s,
                        %(fee)s, %(channel)s, %(ocid)s, %(hold_id)s, %(hold_day)s,
                        %(check_after)s)
                RETURNING {_COLUMNS}
                """,
                {
                    "reference": reference,
                    "user_id": user_id,
                    "merchant_id": merchant_id,
                    "phone": phone,
                    "amount": amount,
                    "fee": fee,
                    "channel": channel,
                    "ocid": originator_conversation_id,
                    "hold_id": hold_id,
                    "hold_day": hold_day,
                    "check_after": check_after,
                },
            )
            return Withdrawal(*cur.fetchone())

    def by_hold(self, hold_id: int) -> Withdrawal | None:
        return self._one("hold_id = %(v)s", hold_id)

    def get(self, reference: str, *, user_id: int | None = None) -> Withdrawal | None:
        """A withdrawal by its reference (and, when given, only the user's own)."""
        found = self._one("reference = %(v)s", reference)
        if found is None or (user_id is not None and found.user_id != user_id):
            return None
        return found

    def lock_by_originator(self, originator_conversation_id: str) -> Withdrawal | None:
        return self._one("originator_conversation_id = %(v)s", originator_conversation_id, True)

    def lock_by_id(self, withdrawal_id: int) -> Withdrawal | None:
        return self._one("id = %(v)s", withdrawal_id, True)

    def _one(self, where: str, value: object, lock: bool = False) -> Withdrawal | None:
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM mpesa_withdrawals WHERE {where}"
                + (" FOR UPDATE" if lock else ""),
                {"v": value},
            )
            row = cur.fetchone()
        return Withdrawal(*row) if row else None

    def mark_submitted(
        self, originator_conversation_id: str, *, conversation_id: str | None, check_after: datetime
    ) -> bool:
        """M-Pesa took the payment (or had taken it before: a refused duplicate); its
        result is awaited until check_after. False when it is no longer held."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_withdrawals
                SET status = 'submitted',
                    conversation_id = coalesce(conversation_id, %(conversation_id)s),
                    check_after = %(check_after)s, updated_at = now()
                WHERE originator_conversation_id = %(ocid)s AND status = 'held'
                """,
                {
                    "ocid": originator_conversation_id,
                    "conversation_id": conversation_id,
                    "check_after": check_after,
                },
            )
            return cur.rowcount == 1

    def mark_refused(self, originator_conversation_id: str, *, reason: str) -> None:
        """M-Pesa refused the payment outright (never took it): release it now."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_withdrawals
                SET result_code = 'refused', result_desc = %(reason)s, check_after = now(),
                    updated_at = now()
                WHERE originator_conversation_id = %(ocid)s AND status = 'held'
                """,
                {"ocid": originator_conversation_id, "reason": reason[:300]},
            )

    def check_soon(self, withdrawal_id: int, at: datetime, *, not_found: bool = False) -> None:
        """Ask M-Pesa about it at `at` (counting a "no such transaction" answer)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_withdrawals
                SET status = 'submitted', check_after = %(at)s,
                    not_found = not_found + CASE WHEN %(not_found)s THEN 1 ELSE 0 END,
                    updated_at = now()
                WHERE id = %(id)s AND status IN ('held', 'submitted')
                """,
                {"id": withdrawal_id, "at": at, "not_found": not_found},
            )

    def ask_at(self, withdrawal_id: int, at: datetime) -> None:
        """Ask M-Pesa about it at `at` (a callback spoke of it); its status is untouched."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_withdrawals SET check_after = %(at)s, updated_at = now()
                WHERE id = %(id)s AND status IN ('held', 'submitted')
                """,
                {"id": withdrawal_id, "at": at},
            )

    def queried(self, withdrawal_id: int, *, query_conversation_id: str) -> None:
        """A transaction status query was sent; its answer comes under this id."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_withdrawals
                SET status_queries = status_queries + 1,
                    query_conversation_id = %(query)s, updated_at = now()
                WHERE id = %(id)s
                """,
                {"id": withdrawal_id, "query": query_conversation_id},
            )

    def finish(
        self,
        withdrawal_id: int,
        *,
        status: str,
        outcome_id: int | None,
        result_code: str | None,
        result_desc: str | None,
        receipt: str | None = None,
    ) -> None:
        """How it ended: completed (paid out) or released by outcome_id; or review."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_withdrawals
                SET status = %(status)s, outcome_id = coalesce(%(outcome)s, outcome_id),
                    result_code = %(code)s, result_desc = %(desc)s,
                    receipt = coalesce(%(receipt)s, receipt), check_after = NULL,
                    updated_at = now()
                WHERE id = %(id)s
                """,
                {
                    "id": withdrawal_id,
                    "status": status,
                    "outcome": outcome_id,
                    "code": result_code,
                    "desc": (result_desc or "")[:300] or None,
                    "receipt": receipt,
                },
            )

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Withdrawal]:
        """Open withdrawals whose check is due, each pushed back to lease_until so that
        no other worker takes it meanwhile."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                UPDATE mpesa_withdrawals SET check_after = %(lease)s, updated_at = now()
                WHERE id IN (
                    SELECT id FROM mpesa_withdrawals
                    WHERE status IN ('held', 'submitted') AND check_after <= %(now)s
                    ORDER BY check_after
                    LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING {_COLUMNS}
                """,
                {"now": now, "lease": lease_until, "limit": limit},
            )
            return [Withdrawal(*row) for row in cur.fetchall()]

    def payment_request_state(self, originator_conversation_id: str) -> tuple[str, int] | None:
        """The B2C request's outbox row: (status, attempts), or None if there is none."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT status, attempts FROM outbox WHERE dedupe_key = %(key)s",
                {"key": b2c_dedupe_key(originator_conversation_id)},
            )
            row = cur.fetchone()
        return (row[0], row[1]) if row else None


def b2c_dedupe_key(originator_conversation_id: str) -> str:
    """The outbox dedupe key of a withdrawal's B2C request."""
    return f"mpesa:b2c:{originator_conversation_id}"
