"""Contributions: what the journal does not say about money paid into a campaign
(the pledge it pays, anonymity, a message), and the reads money movements make
after taking their locks. Amounts, references and times are the journal's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg2.extensions

from app.db.repositories.pledges import PAID_LATERAL, STATUS_SQL
from app.domain.records.harambee import ContributionRow


@dataclass(frozen=True, slots=True)
class PledgeState:
    user_id: int
    amount: int
    paid: int
    status: str


@dataclass(frozen=True, slots=True)
class ContributionState:
    """Read after the escrow and the wallet are locked, in a new statement: exact."""

    earlier_id: int | None  # the transaction already holding the idempotency key
    day_total: int  # the wallet's outflows today, cents
    rolling_total: int  # ... and over the 30 days ending today
    status: str  # the campaign's stored status
    end_date: date | None
    target_amount: int
    pledge: PledgeState | None  # the pledge being paid, if any (and if it is this campaign's)


@dataclass(frozen=True, slots=True)
class DailyTotal:
    day: date  # Nairobi day
    amount: int  # cents
    contributions: int


@dataclass(frozen=True, slots=True)
class ContributionTotals:
    amount: int  # cents contributed, refunds not deducted
    contributions: int
    contributors: int


_STATE_SQL = f"""
    SELECT (SELECT id FROM journal_transactions WHERE idempotency_key = %(key)s),
           o.day_total, o.rolling_total, c.status, c.end_date, c.target_amount,
           pl.user_id, pl.amount, pl.paid, pl.status
    FROM campaigns c
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(amount) FILTER (WHERE day = %(today)s), 0) AS day_total,
               coalesce(sum(amount), 0) AS rolling_total
        FROM account_outflows
        WHERE account_id = %(wallet)s AND day > %(today)s - 30
    ) o
    LEFT JOIN LATERAL (
        SELECT p.user_id, p.amount, paid.total AS paid, {STATUS_SQL} AS status
        FROM pledges p
        {PAID_LATERAL}
        WHERE p.id = %(pledge)s AND p.campaign_id = c.id
    ) pl ON true
    WHERE c.id = %(campaign)s
"""

_ROW_SQL = """
    SELECT cc.id, t.id, t.reference, cc.campaign_id, cc.user_id, u.full_name, t.amount,
           cc.pledge_id, cc.is_anonymous, cc.message, t.created_at
    FROM campaign_contributions cc
    JOIN journal_transactions t ON t.id = cc.transaction_id
    JOIN users u ON u.id = cc.user_id
"""

# A journal time's Nairobi day (UTC+3 all year, no daylight saving).
_NAIROBI_DAY = "((t.created_at AT TIME ZONE 'UTC') + interval '3 hours')::date"


class ContributionRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def state_after_lock(
        self,
        *,
        key: str,
        campaign_id: int,
        wallet_account_id: int,
        today: date,
        pledge_id: int | None,
    ) -> ContributionState | None:
        """Everything a contribution checks once its accounts are locked, in one round
        trip; None when the campaign does not exist."""
        with self._conn.cursor() as cur:
            cur.execute(
                _STATE_SQL,
                {
                    "key": key,
                    "campaign": campaign_id,
                    "wallet": wallet_account_id,
                    "today": today,
                    "pledge": pledge_id,
                },
            )
            row = cur.fetchone()
        if row is None:
            return None
        pledge = PledgeState(row[6], row[7], int(row[8]), row[9]) if row[6] is not None else None
        return ContributionState(row[0], int(row[1]), int(row[2]), row[3], row[4], row[5], pledge)

    def record(
        self,
        *,
        transaction_id: int,
        campaign_id: int,
        user_id: int,
        pledge_id: int | None,
        is_anonymous: bool,
        message: str | None,
    ) -> int:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO campaign_contributions
                    (transaction_id, campaign_id, user_id, pledge_id, is_anonymous, message)
                VALUES (%(tx)s, %(campaign)s, %(user)s, %(pledge)s, %(anonymous)s, %(message)s)
                RETURNING id
                """,
                {
                    "tx": transaction_id,
                    "campaign": campaign_id,
                    "user": user_id,
                    "pledge": pledge_id,
                    "anonymous": is_anonymous,
                    "message": message,
                },
            )
            return cur.fetchone()[0]

    def get(self, contribution_id: int) -> ContributionRow | None:
        with self._conn.cursor() as cur:
            cur.execute(_ROW_SQL + " WHERE cc.id = %(id)s", {"id": contribution_id})
            row = cur.fetchone()
        return ContributionRow(*row) if row else None

    def by_transaction(self, transaction_id: int) -> ContributionRow | None:
        with self._conn.cursor() as cur:
            cur.execute(_ROW_SQL + " WHERE cc.transaction_id = %(id)s", {"id": transaction_id})
            row = cur.fetchone()
        return ContributionRow(*row) if row else None

    def of_campaign(
        self, campaign_id: int, *, before_id: int | None, limit: int
    ) -> list[ContributionRow]:
        """A campaign's contributions, newest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                _ROW_SQL
                + """
                WHERE cc.campaign_id = %(campaign)s
                  AND (%(before)s::bigint IS NULL OR cc.id < %(before)s::bigint)
                ORDER BY cc.id DESC
                LIMIT %(limit)s
                """,
                {"campaign": campaign_id, "before": before_id, "limit": limit},
            )
            return [ContributionRow(*row) for row in cur.fetchall()]

    def contributed(self, campaign_id: int, user_id: int) -> int:
        """Cents a user has contributed to a campaign (read it under the escrow's lock)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT coalesce(sum(t.amount), 0)
                FROM campaign_contributions cc
                JOIN journal_transactions t ON t.id = cc.transaction_id
                WHERE cc.campaign_id = %(campaign)s AND cc.user_id = %(user)s
                """,
                {"campaign": campaign_id, "user": user_id},
            )
            return int(cur.fetchone()[0])

    def unrefunded(self, campaign_id: int, limit: int) -> list[int]:
        """Contributors of a campaign with no refund yet (by its key), in user order."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT DISTINCT cc.user_id
                FROM campaign_contributions cc
                WHERE cc.campaign_id = %(campaign)s
                  AND NOT EXISTS (
                      SELECT 1 FROM journal_transactions r
                      WHERE r.idempotency_key
                            = 'campaign_refund:' || %(campaign)s || ':' || cc.user_id)
                ORDER BY cc.user_id
                LIMIT %(limit)s
                """,
                {"campaign": campaign_id, "limit": limit},
            )
            return [row[0] for row in cur.fetchall()]

    def totals(self, campaign_id: int) -> ContributionTotals:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT coalesce(sum(t.amount), 0), count(*), count(DISTINCT cc.user_id)
                FROM campaign_contributions cc
                JOIN journal_transactions t ON t.id = cc.transaction_id
                WHERE cc.campaign_id = %(campaign)s
                """,
                {"campaign": campaign_id},
            )
            amount, count, contributors = cur.fetchone()
        return ContributionTotals(int(amount), int(count), int(contributors))

    def daily(self, campaign_id: int, first: date, last: date) -> list[DailyTotal]:
        """Contributions per Nairobi day from first to last, every day listed."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT d.day::date, coalesce(sum(x.amount), 0), count(x.amount)
                FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS d (day)
                LEFT JOIN (
                    SELECT {_NAIROBI_DAY} AS day, t.amount
                    FROM campaign_contributions cc
                    JOIN journal_transactions t ON t.id = cc.transaction_id
                    WHERE cc.campaign_id = %(campaign)s
                      AND t.created_at >= %(first)s::date - interval '1 day'
                ) x ON x.day = d.day::date
                GROUP BY d.day
                ORDER BY d.day
                """,
                {"campaign": campaign_id, "first": first, "last": last},
            )
            return [DailyTotal(row[0], int(row[1]), int(row[2])) for row in cur.fetchall()]
