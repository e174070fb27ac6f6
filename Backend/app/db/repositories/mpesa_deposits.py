"""Deposits through M-Pesa (STK push): the request, what Daraja answered, how it ended.

A deposit is locked (`FOR UPDATE`) before the ledger accounts it credits, always in
that order, so two deliveries of one callback queue on its row and the second sees
what the first did.
"""

from __future__ import annotations

from datetime import datetime

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from app.db.repositories.ledger import ReferenceTaken
from app.domain.records.mpesa import Deposit

_COLUMNS = """id, reference, user_id, phone, amount, channel, request_key, request_hash,
    status, merchant_request_id, checkout_request_id, result_code, result_desc, receipt,
    transaction_id, queries, next_check_at, created_at, updated_at, query_errors,
    last_query_error"""
OPEN = ("requested", "pending", "confirming")
FINISHED = ("completed", "failed", "disputed")


class DepositRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def add(
        self,
        *,
        reference: str,
        user_id: int,
        phone: str,
        amount: int,
        channel: str,
        request_key: str,
        request_hash: str,
        next_check_at: datetime,
    ) -> Deposit | None:
        """Record a new deposit request; None when one with this request key exists
        (a concurrent call's, once it committed). Raises ReferenceTaken."""
        try:
            with self._conn.cursor() as cur:
                cur.execute(
                    f"""
                    INSERT INTO mpesa_deposits (reference, user_id, phone, amount, channel,
                                                request_key, request_hash, next_check_at)
                    VALUES (%(reference)s, %(user_id)s, %(phone)s, %(amount)s, %(channel)s,
                            %(key)s, %(hash)s, %(next_check_at)s)
                    ON CONFLICT (request_key) DO NOTHING
                    RETURNING {_COLUMNS}
                    """,
                    {
                        "reference": reference,
                        "user_id": user_id,
                        "phone": phone,
                        "amount": amount,
                        "channel": channel,
                        "key": request_key,
                        "hash": request_hash,
                        "next_check_at": next_check_at,
                    },
                )
                row = cur.fetchone()
        except psycopg2.errors.UniqueViolation as exc:
            raise ReferenceTaken from exc
        return Deposit(*row) if row else None

    def by_key(self, request_key: str) -> Deposit | None:
        return self._one("request_key = %(v)s", request_key)

    def get(self, reference: str, *, user_id: int | None = None) -> Deposit | None:
        """A deposit by its reference (and, when given, only the user's own)."""
        found = self._one("reference = %(v)s", reference)
        if found is None or (user_id is not None and found.user_id != user_id):
            return None
        return found

    def lock_by_checkout(self, checkout_request_id: str) -> Deposit | None:
        return self._one("checkout_request_id = %(v)s", checkout_request_id, lock=True)

    def lock_by_reference(self, reference: str) -> Deposit | None:
        return self._one("reference = %(v)s", reference, lock=True)

    def has_receipt(self, receipt: str) -> bool:
        """Whether a deposit carries this M-Pesa receipt (mpesa_deposits_receipt_idx)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT EXISTS (SELECT 1 FROM mpesa_deposits WHERE receipt = %(receipt)s)",
                {"receipt": receipt},
            )
            row = cur.fetchone()
        return bool(row and row[0])

    def _one(self, where: str, value: object, *, lock: bool = False) -> Deposit | None:
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM mpesa_deposits WHERE {where}"
                + (" FOR UPDATE" if lock else ""),
                {"v": value},
            )
            row = cur.fetchone()
        return Deposit(*row) if row else None

    def mark_pushed(
        self,
        reference: str,
        *,
        merchant_request_id: str,
        checkout_request_id: str,
        next_check_at: datetime,
    ) -> bool:
        """M-Pesa prompted the phone: the deposit waits for its result. False when a
        callback got there first (it already knows the CheckoutRequestID)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_deposits
                SET status = 'pending', merchant_request_id = %(merchant)s,
                    checkout_request_id = %(checkout)s, next_check_at = %(next)s,
                    updated_at = now()
                WHERE reference = %(reference)s AND status IN ('requested', 'unknown')
                  AND checkout_request_id IS NULL
                """,
                {
                    "reference": reference,
                    "merchant": merchant_request_id,
                    "checkout": checkout_request_id,
                    "next": next_check_at,
                },
            )
            return cur.rowcount == 1

    def adopt(self, deposit_id: int, *, merchant_request_id: str, checkout_request_id: str) -> None:
        """Give a deposit whose push answer was lost the CheckoutRequestID its result names."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_deposits
                SET merchant_request_id = coalesce(merchant_request_id, %(merchant)s),
                    checkout_request_id = %(checkout)s, updated_at = now()
                WHERE id = %(id)s AND checkout_request_id IS NULL
                """,
                {
                    "id": deposit_id,
                    "merchant": merchant_request_id,
                    "checkout": checkout_request_id,
                },
            )

    def confirm(
        self,
        deposit_id: int,
        *,
        result_code: str,
        result_desc: str | None,
        receipt: str | None,
        next_check_at: datetime,
    ) -> None:
        """A callback spoke for the deposit: hold what it claimed, ask M-Pesa at
        next_check_at (the STK query decides)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_deposits
                SET status = 'confirming', result_code = %(code)s, result_desc = %(desc)s,
                    receipt = coalesce(%(receipt)s, receipt), next_check_at = %(next)s,
                    updated_at = now()
                WHERE id = %(id)s AND status IN ('requested', 'pending', 'unknown')
                """,
                {
                    "id": deposit_id,
                    "code": result_code,
                    "desc": (result_desc or "")[:300] or None,
                    "receipt": receipt,
                    "next": next_check_at,
                },
            )

    def query_failed(self, deposit_id: int, *, error: str, next_check_at: datetime) -> int:
        """An STK query answered with an HTTP error (no decision): count it, ask again
        at next_check_at. Returns the deposit's query errors so far."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_deposits
                SET query_errors = query_errors + 1, last_query_error = %(error)s,
                    queries = queries + 1, next_check_at = %(next)s, updated_at = now()
                WHERE id = %(id)s AND status IN ('requested', 'pending', 'confirming')
                RETURNING query_errors
                """,
                {"id": deposit_id, "error": error[:300], "next": next_check_at},
            )
            row = cur.fetchone()
        return row[0] if row else 0

    def held(self, limit: int = 100) -> list[Deposit]:
        """Deposits an operator must decide (disputed, or whose push answer was lost),
        oldest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM mpesa_deposits WHERE status IN ('disputed', 'unknown')"
                " ORDER BY id LIMIT %(limit)s",
                {"limit": limit},
            )
            return [Deposit(*row) for row in cur.fetchall()]

    def finish(
        self,
        deposit_id: int,
        *,
        status: str,
        result_code: str | None,
        result_desc: str | None,
        receipt: str | None = None,
        transaction_id: int | None = None,
    ) -> None:
        """How the deposit ended: completed (credited by transaction_id), failed,
        disputed, or unknown (the push's answer was lost)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_deposits
                SET status = %(status)s, result_code = %(code)s, result_desc = %(desc)s,
                    receipt = coalesce(%(receipt)s, receipt), transaction_id = %(tx)s,
                    next_check_at = NULL, updated_at = now()
                WHERE id = %(id)s
                """,
                {
                    "id": deposit_id,
                    "status": status,
                    "code": result_code,
                    "desc": (result_desc or "")[:300] or None,
                    "receipt": receipt,
                    "tx": transaction_id,
                },
            )

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Deposit]:
        """Open deposits whose check is due, each pushed back to lease_until so that no
        other worker takes it meanwhile (other workers skip the locked rows)."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                UPDATE mpesa_deposits SET next_check_at = %(lease)s, updated_at = now()
                WHERE id IN (
                    SELECT id FROM mpesa_deposits
                    WHERE status IN ('requested', 'pending', 'confirming')
                      AND next_check_at <= %(now)s
                    ORDER BY next_check_at
                    LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING {_COLUMNS}
                """,
                {"now": now, "lease": lease_until, "limit": limit},
            )
            return [Deposit(*row) for row in cur.fetchall()]

    def checked(self, deposit_id: int, *, next_check_at: datetime) -> None:
        """One STK query was made; ask again at next_check_at if it is still open."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE mpesa_deposits
                SET queries = queries + 1, next_check_at = %(next)s, updated_at = now()
                WHERE id = %(id)s AND status IN ('requested', 'pending', 'confirming')
                """,
                {"id": deposit_id, "next": next_check_at},
            )

    def postpone(self, deposit_id: int, *, next_check_at: datetime) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE mpesa_deposits SET next_check_at = %(next)s, updated_at = now()"
                " WHERE id = %(id)s AND status IN ('requested', 'pending', 'confirming')",
                {"id": deposit_id, "next": next_check_at},
            )

    def push_request_state(self, reference: str) -> tuple[str, int] | None:
        """The STK push's outbox row: (status, attempts), or None if there is none."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT status, attempts FROM outbox WHERE dedupe_key = %(key)s",
                {"key": stk_dedupe_key(reference)},
            )
            row = cur.fetchone()
        return (row[0], row[1]) if row else None


def stk_dedupe_key(reference: str) -> str:
    """The outbox dedupe key of a deposit's STK push."""
    return f"mpesa:stk:{reference}"
