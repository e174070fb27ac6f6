"""Pledges: promises to pay a campaign by a date.

What has been paid toward a pledge is the sum of the contributions that name it
(their amounts are their journal transactions'), and its status follows from that,
its due date and whether it or its campaign ended: app.domain.harambee.pledge_status
is the same rule in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from app.domain.records.harambee import PledgeFilter, PledgeRow


class PledgeKeyTaken(Exception):
    """A concurrent call made a pledge with this creation key."""


# Cents paid toward pledge `p` (a LATERAL subquery named `paid`, column `total`).
PAID_LATERAL = """CROSS JOIN LATERAL (
        SELECT coalesce(sum(t.amount), 0)::bigint AS total  -- sum(bigint) is numeric
        FROM campaign_contributions cc JOIN journal_transactions t ON t.id = cc.transaction_id
        WHERE cc.pledge_id = p.id
    ) paid"""
# The status of pledge `p` of campaign `c` on Nairobi day %(today)s.
STATUS_SQL = """CASE WHEN p.cancelled_at IS NOT NULL THEN 'cancelled'
            WHEN paid.total >= p.amount THEN 'fulfilled'
            WHEN c.status <> 'active' THEN 'cancelled'
            WHEN p.due_date < %(today)s THEN 'overdue'
            WHEN paid.total > 0 THEN 'partially_paid'
            ELSE 'pledged' END"""

_SELECT = f"""
    SELECT p.id, p.campaign_id, c.code, c.title, p.user_id, p.amount, paid.total, p.due_date,
           {STATUS_SQL} AS status,
           p.is_anonymous, p.message, p.created_at, p.cancelled_at
    FROM pledges p
    JOIN campaigns c ON c.id = p.campaign_id
    {PAID_LATERAL}
"""


@dataclass(frozen=True, slots=True)
class PledgeReminder:
    """A payable pledge due on a reminder day, with what its SMS says and to whom."""

    id: int
    left: int  # cents still to pay
    due_date: date
    campaign_code: str
    campaign_title: str
    phone: str
    language: str


def reminder_key(pledge_id: int, due_date: date, when: str) -> str:
    """The outbox dedupe key of a reminder: each is queued once ('soon' or 'today')."""
    return f"pledge:{pledge_id}:reminder:{due_date.isoformat()}:{when}"


class PledgeRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def create(
        self,
        *,
        campaign_id: int,
        user_id: int,
        amount: int,
        due_date: date,
        is_anonymous: bool,
        message: str | None,
        creation_key: str,
        request_hash: str,
        now: datetime,
    ) -> int:
        """The new pledge's id. Raises PledgeKeyTaken (the transaction is then aborted)."""
        try:
            with self._conn.cursor() as cur:
                cur.execute(
                    """
                    INSERT INTO pledges (campaign_id, user_id, amount, due_date, is_anonymous,
                                         message, creation_key, request_hash, created_at)
                    VALUES (%(campaign)s, %(user)s, %(amount)s, %(due)s, %(anonymous)s,
                            %(message)s, %(key)s, %(hash)s, %(now)s)
                    RETURNING id
                    """,
                    {
                        "campaign": campaign_id,
                        "user": user_id,
                        "amount": amount,
                        "due": due_date,
                        "anonymous": is_anonymous,
                        "message": message,
                        "key": creation_key,
                        "hash": request_hash,
                        "now": now,
                    },
                )
                return cur.fetchone()[0]
        except psycopg2.errors.UniqueViolation as exc:
            raise PledgeKeyTaken from exc

    def by_creation_key(self, key: str) -> tuple[int, str] | None:
        """The pledge a creation key made, and its request hash."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT id, request_hash FROM pledges WHERE creation_key = %(key)s", {"key": key}
            )
            row = cur.fetchone()
        return (row[0], row[1]) if row else None

    def get(self, pledge_id: int, today: date) -> PledgeRow | None:
        with self._conn.cursor() as cur:
            cur.execute(_SELECT + " WHERE p.id = %(id)s", {"id": pledge_id, "today": today})
            row = cur.fetchone()
        return PledgeRow(*row) if row else None

    def list(self, where: PledgeFilter, today: date, limit: int) -> list[PledgeRow]:
        """Pledges matching `where`, newest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT * FROM ({_SELECT}
                    WHERE (%(user)s::bigint IS NULL OR p.user_id = %(user)s::bigint)
                      AND (%(campaign)s::bigint IS NULL OR p.campaign_id = %(campaign)s::bigint)
                      AND (%(before)s::bigint IS NULL OR p.id < %(before)s::bigint)
                ) found
                WHERE (%(status)s::text IS NULL OR found.status = %(status)s::text)
                  AND (NOT %(payable)s
                       OR found.status IN ('pledged', 'partially_paid', 'overdue'))
                ORDER BY found.id DESC
                LIMIT %(limit)s
                """,
                {
                    "user": where.user_id,
                    "campaign": where.campaign_id,
                    "before": where.before_id,
                    "status": where.status,
                    "payable": where.payable_only,
                    "today": today,
                    "limit": limit,
                },
            )
            return [PledgeRow(*row) for row in cur.fetchall()]

    def cancel(self, pledge_id: int, now: datetime) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE pledges SET cancelled_at = %(now)s"
                " WHERE id = %(id)s AND cancelled_at IS NULL",
                {"id": pledge_id, "now": now},
            )

    def statuses(self, campaign_id: int, today: date) -> dict[str, tuple[int, int, int]]:
        """Per status of a campaign's pledges: (count, cents promised, cents paid)."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT status, count(*), coalesce(sum(amount), 0), coalesce(sum(paid), 0)
                FROM (SELECT {STATUS_SQL} AS status, p.amount, paid.total AS paid
                      FROM pledges p JOIN campaigns c ON c.id = p.campaign_id
                      {PAID_LATERAL}
                      WHERE p.campaign_id = %(campaign)s) found
                GROUP BY status
                """,
                {"campaign": campaign_id, "today": today},
            )
            return {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in cur.fetchall()}

    def due_for_reminder(self, today: date, soon: date, limit: int) -> list[PledgeReminder]:
        """Payable pledges of active campaigns due today or on `soon` whose reminder for
        that day is not queued yet (reminder_key), oldest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT p.id, p.amount - paid.total, p.due_date, c.code, c.title, u.phone,
                       u.language
                FROM pledges p
                JOIN campaigns c ON c.id = p.campaign_id
                JOIN users u ON u.id = p.user_id
                {PAID_LATERAL}
                WHERE p.due_date IN (%(today)s::date, %(soon)s::date)
                  AND p.cancelled_at IS NULL AND c.status = 'active'
                  AND paid.total < p.amount
                  AND NOT EXISTS (
                      SELECT 1 FROM outbox o
                      WHERE o.dedupe_key = 'pledge:' || p.id || ':reminder:' || p.due_date
                            || CASE WHEN p.due_date = %(today)s::date THEN ':today'
                                    ELSE ':soon' END)
                ORDER BY p.id
                LIMIT %(limit)s
                """,
                {"today": today, "soon": soon, "limit": limit},
            )
            return [PledgeReminder(*row) for row in cur.fetchall()]
