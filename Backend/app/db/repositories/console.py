"""The console dashboard's figures, read straight from the ledger.

"Value moved" counts journal transactions with a leg on a user's wallet: movements only
between system accounts (a withdrawal's hold paid out to the float, a fee shard) are
PayTrace's own bookkeeping, not business, and are left out.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg2.extensions

from app.domain.records.console import DayTotal, Movement
from app.domain.records.console_rails import Listing

_TOUCHES_A_WALLET = """EXISTS (
    SELECT 1 FROM journal_legs l JOIN ledger_accounts a ON a.id = l.account_id
    WHERE l.transaction_id = t.id AND a.kind = 'wallet')"""


class ConsoleRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def movements(self, since: datetime, until: datetime) -> Movement:
        """Transactions touching a wallet with since <= created_at < until."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT count(*), coalesce(sum(t.amount), 0) FROM journal_transactions t
                WHERE t.created_at >= %(since)s AND t.created_at < %(until)s
                  AND {_TOUCHES_A_WALLET}
                """,
                {"since": since, "until": until},
            )
            count, value = cur.fetchone()
        return Movement(count=count, value=int(value))

    def registrations(self, since: datetime, until: datetime) -> int:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM users"
                " WHERE created_at >= %(since)s AND created_at < %(until)s",
                {"since": since, "until": until},
            )
            return cur.fetchone()[0]

    def registrations_listed(self, since: datetime, until: datetime, limit: int) -> Listing:
        """The users created in the window, newest first (registrations' rows)."""
        columns = ("paytrace_id", "phone", "full_name", "language", "kyc_tier", "created_at")
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT paytrace_id, phone, full_name, language, kyc_tier, created_at
                FROM users WHERE created_at >= %(since)s AND created_at < %(until)s
                ORDER BY id DESC LIMIT %(limit)s
                """,
                {"since": since, "until": until, "limit": limit},
            )
            return Listing(columns=columns, rows=tuple(tuple(r) for r in cur))

    def daily_movements(
        self, first: date, last: date, offset: timedelta, since: datetime
    ) -> list[DayTotal]:
        """Every day from first to last (days at UTC+offset, the first starting at since),
        zero-filled, oldest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT d.day::date, count(t.id), coalesce(sum(t.amount), 0)
                FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day')
                     AS d(day)
                LEFT JOIN journal_transactions t
                  ON (t.created_at AT TIME ZONE 'UTC' + %(offset)s)::date = d.day::date
                 AND t.created_at >= %(since)s
                 AND {_TOUCHES_A_WALLET}
                GROUP BY d.day ORDER BY d.day
                """,
                {"first": first, "last": last, "offset": offset, "since": since},
            )
            return [DayTotal(day=row[0], count=row[1], value=int(row[2])) for row in cur]
