"""The console dashboard's rails and money figures, and the rows behind each.

Windows are [since, until) on each row's own creation time. Rows listed for a drill-down
are the newest first, at most `limit`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg2.extensions

from app.domain.records.console_rails import Count, DayKind, Lag, Listing

_TOUCHES_A_WALLET = """EXISTS (
    SELECT 1 FROM journal_legs l JOIN ledger_accounts a ON a.id = l.account_id
    WHERE l.transaction_id = t.id AND a.kind = 'wallet')"""
# A B2C result the route did not refuse: its body is M-Pesa's (or still to be checked).
_TRUSTED = "verification <> 'token_mismatch'"


class ConsoleRailsRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def _counts(self, sql: str, params: dict) -> list[Count]:
        with self._conn.cursor() as cur:
            cur.execute(sql, params)
            return [Count(label=str(r[0]), count=r[1], value=int(r[2])) for r in cur]

    def stk_outcomes(self, since: datetime, until: datetime) -> list[Count]:
        """Deposits by M-Pesa's ResultCode ('0' paid), or their status while none came."""
        return self._counts(
            """
            SELECT coalesce(result_code, status), count(*), coalesce(sum(amount), 0)
            FROM mpesa_deposits WHERE created_at >= %(since)s AND created_at < %(until)s
            GROUP BY 1 ORDER BY 2 DESC, 1
            """,
            {"since": since, "until": until},
        )

    def b2c_results(self, since: datetime, until: datetime) -> list[Count]:
        """Withdrawals and payouts by status and M-Pesa's ResultCode ('completed 0')."""
        return self._counts(
            """
            SELECT status || coalesce(' ' || result_code, ''), count(*), coalesce(sum(amount), 0)
            FROM mpesa_withdrawals WHERE created_at >= %(since)s AND created_at < %(until)s
            GROUP BY 1 ORDER BY 2 DESC, 1
            """,
            {"since": since, "until": until},
        )

    def sms_by_status(self, since: datetime, until: datetime) -> list[Count]:
        """SMS handed to AT, by their latest status (submitted, sent, delivered...)."""
        return self._counts(
            """
            SELECT status, count(*), 0 FROM sms_messages
            WHERE created_at >= %(since)s AND created_at < %(until)s
            GROUP BY 1 ORDER BY 2 DESC, 1
            """,
            {"since": since, "until": until},
        )

    def settlements_by_status(self) -> list[Count]:
        """Every settlement on Stellar by status ('failed' is parked), with its value."""
        return self._counts(
            """
            SELECT s.status, count(*), coalesce(sum(t.amount), 0)
            FROM stellar_settlements s JOIN journal_transactions t ON t.id = s.transaction_id
            GROUP BY 1 ORDER BY 1
            """,
            {},
        )

    def settlement_lag(self, since: datetime, until: datetime, now: datetime) -> Lag:
        """Seconds from posting to settling (median, 95th percentile) of those settled in
        the window, and the age of the oldest still unsettled."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY lag), count(*)
                FROM (SELECT extract(epoch FROM s.settled_at - t.created_at) AS lag
                      FROM stellar_settlements s
                      JOIN journal_transactions t ON t.id = s.transaction_id
                      WHERE s.settled_at >= %(since)s AND s.settled_at < %(until)s) settled
                """,
                {"since": since, "until": until},
            )
            p50, p95, settled = cur.fetchone()
            cur.execute(
                """
                SELECT extract(epoch FROM %(now)s - min(t.created_at))
                FROM stellar_settlements s JOIN journal_transactions t ON t.id = s.transaction_id
                WHERE s.status <> 'settled'
                """,
                {"now": now},
            )
            oldest = cur.fetchone()[0]
        return Lag(
            settled=settled,
            p50_s=None if p50 is None else float(p50),
            p95_s=None if p95 is None else float(p95),
            oldest_unsettled_s=None if oldest is None else float(oldest),
        )

    def latest_b2c_results(self, limit: int) -> list[tuple[int, datetime, str | None, str]]:
        """(id, received_at, reference, body) of the newest B2C results not refused at
        the door."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT id, received_at, reference, body FROM inbound_callbacks
                WHERE provider = 'mpesa' AND kind = 'b2c_result' AND {_TRUSTED}
                ORDER BY id DESC LIMIT %(limit)s
                """,
                {"limit": limit},
            )
            return list(cur.fetchall())

    def fees_earned(self, since: datetime, until: datetime) -> int:
        """Cents into PayTrace's fee accounts (net of any reversed fee) in the window."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT coalesce(sum(l.amount), 0) FROM journal_legs l
                JOIN ledger_accounts a ON a.id = l.account_id
                JOIN journal_transactions t ON t.id = l.transaction_id
                WHERE a.kind = 'fees' AND t.created_at >= %(since)s AND t.created_at < %(until)s
                """,
                {"since": since, "until": until},
            )
            return int(cur.fetchone()[0])

    def active_users(self, since: datetime, until: datetime) -> int:
        """People whose wallet a movement touched (in or out) in the window."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT count(DISTINCT a.user_id) FROM journal_legs l
                JOIN ledger_accounts a ON a.id = l.account_id AND a.kind = 'wallet'
                JOIN journal_transactions t ON t.id = l.transaction_id
                WHERE t.created_at >= %(since)s AND t.created_at < %(until)s
                """,
                {"since": since, "until": until},
            )
            return cur.fetchone()[0]

    def holds(self) -> list[Count]:
        """Money held now, by hold (M-Pesa payouts, bills, owed back): balance per code
        family, with the number of accounts holding any."""
        return self._counts(
            """
            SELECT CASE WHEN code = 'mpesa_owed_back' THEN code ELSE kind END,
                   count(*) FILTER (WHERE balance <> 0), coalesce(sum(balance), 0)
            FROM ledger_accounts WHERE kind IN ('mpesa_hold', 'bill_hold')
            GROUP BY 1 ORDER BY 1
            """,
            {},
        )

    def daily_by_kind(
        self, first: date, last: date, offset: timedelta, since: datetime
    ) -> list[DayKind]:
        """Per day (UTC+offset) and journal kind: count and value of the transactions that
        touched a wallet; only days and kinds with any (the service zero-fills)."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT (t.created_at AT TIME ZONE 'UTC' + %(offset)s)::date AS day, t.kind,
                       count(*), coalesce(sum(t.amount), 0)
                FROM journal_transactions t
                WHERE t.created_at >= %(since)s AND {_TOUCHES_A_WALLET}
                  AND (t.created_at AT TIME ZONE 'UTC' + %(offset)s)::date
                      BETWEEN %(first)s AND %(last)s
                GROUP BY 1, 2 ORDER BY 1, 2
                """,
                {"first": first, "last": last, "offset": offset, "since": since},
            )
            return [DayKind(day=r[0], kind=r[1], count=r[2], value=int(r[3])) for r in cur]

    def journal_kinds(self, since: datetime, until: datetime) -> list[str]:
        """The journal kinds posted in the window."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT DISTINCT kind FROM journal_transactions"
                " WHERE created_at >= %(since)s AND created_at < %(until)s",
                {"since": since, "until": until},
            )
            return [row[0] for row in cur]

    def movements_listed(
        self, kinds: tuple[str, ...], since: datetime, until: datetime, limit: int
    ) -> Listing:
        """Transactions of these kinds touching a wallet in the window."""
        return self._listing(
            ("id", "reference", "kind", "amount", "fee", "channel", "created_at"),
            f"""
            SELECT t.id, t.reference, t.kind, t.amount, t.fee, t.channel, t.created_at
            FROM journal_transactions t
            WHERE t.kind = ANY(%(kinds)s) AND t.created_at >= %(since)s
              AND t.created_at < %(until)s AND {_TOUCHES_A_WALLET}
            ORDER BY t.id DESC LIMIT %(limit)s
            """,
            {"kinds": list(kinds), "since": since, "until": until, "limit": limit},
        )

    def fees_listed(self, since: datetime, until: datetime, limit: int) -> Listing:
        """Transactions with a leg on a fee account in the window: what each earned
        (fees_earned's rows)."""
        return self._listing(
            ("id", "reference", "kind", "amount", "fee_earned", "channel", "created_at"),
            """
            SELECT t.id, t.reference, t.kind, t.amount, sum(l.amount), t.channel, t.created_at
            FROM journal_transactions t
            JOIN journal_legs l ON l.transaction_id = t.id
            JOIN ledger_accounts a ON a.id = l.account_id AND a.kind = 'fees'
            WHERE t.created_at >= %(since)s AND t.created_at < %(until)s
            GROUP BY t.id ORDER BY t.id DESC LIMIT %(limit)s
            """,
            {"since": since, "until": until, "limit": limit},
        )

    def deposits_listed(self, label: str, since: datetime, until: datetime, limit: int) -> Listing:
        """Deposits whose ResultCode (or status while none) is label."""
        return self._listing(
            (
                "reference",
                "phone",
                "amount",
                "status",
                "result_code",
                "result_desc",
                "receipt",
                "transaction_id",
                "created_at",
            ),
            """
            SELECT reference, phone, amount, status, result_code, result_desc, receipt,
                   transaction_id, created_at
            FROM mpesa_deposits WHERE coalesce(result_code, status) = %(label)s
              AND created_at >= %(since)s AND created_at < %(until)s
            ORDER BY id DESC LIMIT %(limit)s
            """,
            {"label": label, "since": since, "until": until, "limit": limit},
        )

    def withdrawals_listed(
        self, label: str, since: datetime, until: datetime, limit: int
    ) -> Listing:
        """Withdrawals and payouts whose status, or status and ResultCode, is label."""
        return self._listing(
            (
                "reference",
                "phone",
                "amount",
                "fee",
                "status",
                "result_code",
                "result_desc",
                "receipt",
                "hold_id",
                "created_at",
            ),
            """
            SELECT reference, phone, amount, fee, status, result_code, result_desc, receipt,
                   hold_id, created_at
            FROM mpesa_withdrawals
            WHERE (status = %(label)s OR status || coalesce(' ' || result_code, '') = %(label)s)
              AND created_at >= %(since)s AND created_at < %(until)s
            ORDER BY id DESC LIMIT %(limit)s
            """,
            {"label": label, "since": since, "until": until, "limit": limit},
        )

    def sms_listed(self, status: str, since: datetime, until: datetime, limit: int) -> Listing:
        """SMS with this status: recipient, AT's id and answer (never the text)."""
        return self._listing(
            (
                "id",
                "recipient",
                "status",
                "status_code",
                "failure_reason",
                "provider_message_id",
                "created_at",
                "updated_at",
            ),
            """
            SELECT id, recipient, status, status_code, failure_reason, provider_message_id,
                   created_at, updated_at
            FROM sms_messages WHERE status = %(status)s
              AND created_at >= %(since)s AND created_at < %(until)s
            ORDER BY id DESC LIMIT %(limit)s
            """,
            {"status": status, "since": since, "until": until, "limit": limit},
        )

    def _listing(self, columns: tuple[str, ...], sql: str, params: dict) -> Listing:
        with self._conn.cursor() as cur:
            cur.execute(sql, params)
            return Listing(columns=columns, rows=tuple(tuple(r) for r in cur))
