"""Payouts of merchants' balances to M-Pesa: what the merchant API names them by, read
with the withdrawal (mpesa_withdrawals) that carries each one's hold and B2C payment."""

from __future__ import annotations

from datetime import date, datetime

import psycopg2.extensions

from app.db.repositories.merchants import HELD_LATERAL
from app.domain.records.merchants import PayoutRow

_COLUMNS = """
    p.id, p.public_id, p.merchant_id, p.origin, p.payout_day, w.id, w.reference, w.phone,
    w.amount, w.fee, w.status, w.outcome_id IS NOT NULL, w.receipt, w.result_desc,
    p.created_at, w.updated_at
"""
_FROM = "FROM merchant_payouts p JOIN mpesa_withdrawals w ON w.id = p.withdrawal_id"


class MerchantPayoutRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def insert(
        self,
        *,
        public_id: str,
        merchant_id: int,
        withdrawal_id: int,
        origin: str,
        payout_day: date | None,
        now: datetime,
    ) -> None:
        """Record the payout whose withdrawal was just held (same transaction). A second
        daily payout of a merchant for the same day violates merchant_payouts_daily_idx."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO merchant_payouts
                    (public_id, merchant_id, withdrawal_id, origin, payout_day, created_at)
                VALUES (%(public_id)s, %(merchant)s, %(withdrawal)s, %(origin)s, %(day)s,
                        %(now)s)
                """,
                {
                    "public_id": public_id,
                    "merchant": merchant_id,
                    "withdrawal": withdrawal_id,
                    "origin": origin,
                    "day": payout_day,
                    "now": now,
                },
            )

    def get(self, merchant_id: int, public_id: str) -> PayoutRow | None:
        return self._one(
            "p.public_id = %(public_id)s AND p.merchant_id = %(merchant)s",
            {"public_id": public_id, "merchant": merchant_id},
        )

    def of_withdrawal(self, withdrawal_id: int) -> PayoutRow | None:
        return self._one("p.withdrawal_id = %(withdrawal)s", {"withdrawal": withdrawal_id})

    def daily_exists(self, merchant_id: int, day: date) -> bool:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT 1 FROM merchant_payouts"
                " WHERE merchant_id = %(merchant)s AND payout_day = %(day)s",
                {"merchant": merchant_id, "day": day},
            )
            return cur.fetchone() is not None

    def page(self, merchant_id: int, *, limit: int, before_id: int | None) -> list[PayoutRow]:
        """The merchant's payouts, newest first, below before_id when given."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_COLUMNS} {_FROM}
                WHERE p.merchant_id = %(merchant)s
                  AND (%(before)s::bigint IS NULL OR p.id < %(before)s)
                ORDER BY p.id DESC
                LIMIT %(limit)s
                """,
                {"merchant": merchant_id, "before": before_id, "limit": limit},
            )
            return [PayoutRow(*row) for row in cur.fetchall()]

    def daily_due(self, day: date, *, minimum: int, after_id: int, limit: int) -> list[int]:
        """Active merchants paid out daily whose account holds at least minimum cents
        above the minimum they keep (and at least their threshold above it) and that
        have no payout for this day yet, by id above after_id."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT m.id FROM merchants m
                {HELD_LATERAL}
                WHERE m.payout_schedule = 'daily' AND m.status = 'active'
                  AND a.balance - m.payout_keep_cents
                      >= greatest(%(minimum)s, m.payout_threshold_cents)
                  AND m.id > %(after)s
                  AND NOT EXISTS (SELECT 1 FROM merchant_payouts p
                                  WHERE p.merchant_id = m.id AND p.payout_day = %(day)s)
                ORDER BY m.id
                LIMIT %(limit)s
                """,
                {"day": day, "minimum": minimum, "after": after_id, "limit": limit},
            )
            return [row[0] for row in cur.fetchall()]

    def fee_bands(self) -> list[tuple[int, int, int]]:
        """The B2C ('withdrawal') fee bands: (min amount, max amount, fee), cents."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT min_amount, max_amount, fee FROM fee_bands"
                " WHERE kind = 'withdrawal' ORDER BY min_amount"
            )
            return [tuple(row) for row in cur.fetchall()]

    def _one(self, where: str, params: dict) -> PayoutRow | None:
        with self._conn.cursor() as cur:
            cur.execute(f"SELECT {_COLUMNS} {_FROM} WHERE {where}", params)
            row = cur.fetchone()
        return PayoutRow(*row) if row else None
