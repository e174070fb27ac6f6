"""Scheduled payments and their occurrences.

Every write names the state it expects, so a write that lost a race changes nothing;
the triggers scheduled_payments_guard and scheduled_occurrences_guard refuse the rest.
Lock order: a schedule's row, then its occurrences' rows.
"""

from __future__ import annotations

from datetime import date, datetime, time

import psycopg2.extensions

from app.domain.records.schedules import Occurrence, Schedule

_SCHEDULE = """s.id, s.owner_user_id, s.kind, s.payee, s.payee_name, s.amount, s.note,
    s.frequency, s.day, s.at_time, s.start_date, s.until_date, s.max_count, s.status,
    s.consecutive_skips, s.next_due_at, s.reminded_for, s.channel, s.request_hash,
    s.created_at, s.paused_at, s.stopped_at, s.finished_at"""
_OCCURRENCE = """o.id, o.schedule_id, o.due_at, o.status, o.attempts, o.next_attempt_at,
    o.transaction_id, o.reason, o.created_at, o.paid_at, o.skipped_at, j.reference"""
_OCCURRENCE_FROM = (
    "scheduled_occurrences o LEFT JOIN journal_transactions j ON j.id = o.transaction_id"
)


class ScheduleRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    # ---- schedules ------------------------------------------------------------------

    def insert(
        self,
        *,
        owner_user_id: int,
        kind: str,
        payee: str,
        payee_name: str,
        amount: int,
        note: str | None,
        frequency: str,
        day: int,
        at_time: time,
        start_date: date,
        until_date: date | None,
        max_count: int | None,
        next_due_at: datetime | None,
        channel: str,
        idempotency_key: str,
        request_hash: str,
        created_at: datetime,
    ) -> Schedule | None:
        """A new active schedule; None when the owner used this key before."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                INSERT INTO scheduled_payments AS s (owner_user_id, kind, payee, payee_name,
                    amount, note, frequency, day, at_time, start_date, until_date, max_count,
                    next_due_at, channel, idempotency_key, request_hash, created_at)
                VALUES (%(owner)s, %(kind)s, %(payee)s, %(payee_name)s, %(amount)s, %(note)s,
                    %(frequency)s, %(day)s, %(at_time)s, %(start)s, %(until)s, %(count)s,
                    %(next_due_at)s, %(channel)s, %(key)s, %(hash)s, %(created)s)
                ON CONFLICT (owner_user_id, idempotency_key) DO NOTHING
                RETURNING {_SCHEDULE}
                """,
                {
                    "owner": owner_user_id,
                    "kind": kind,
                    "payee": payee,
                    "payee_name": payee_name,
                    "amount": amount,
                    "note": note,
                    "frequency": frequency,
                    "day": day,
                    "at_time": at_time,
                    "start": start_date,
                    "until": until_date,
                    "count": max_count,
                    "next_due_at": next_due_at,
                    "channel": channel,
                    "key": idempotency_key,
                    "hash": request_hash,
                    "created": created_at,
                },
            )
            row = cur.fetchone()
        return Schedule(*row) if row else None

    def by_key(self, owner_user_id: int, idempotency_key: str) -> Schedule | None:
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_SCHEDULE} FROM scheduled_payments s"
                " WHERE owner_user_id = %(owner)s AND idempotency_key = %(key)s",
                {"owner": owner_user_id, "key": idempotency_key},
            )
            row = cur.fetchone()
        return Schedule(*row) if row else None

    def get(self, schedule_id: int, *, for_update: bool = False) -> Schedule | None:
        lock = " FOR UPDATE" if for_update else ""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_SCHEDULE} FROM scheduled_payments s WHERE id = %(id)s{lock}",
                {"id": schedule_id},
            )
            row = cur.fetchone()
        return Schedule(*row) if row else None

    def for_owner(
        self, owner_user_id: int, *, live_only: bool, limit: int, before_id: int | None = None
    ) -> list[Schedule]:
        """The owner's schedules, newest first, older than before_id; live_only: active
        and paused ones."""
        live = " AND status IN ('active', 'paused')" if live_only else ""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_SCHEDULE} FROM scheduled_payments s"
                f" WHERE owner_user_id = %(owner)s{live}"
                " AND (%(before)s::bigint IS NULL OR id < %(before)s)"
                " ORDER BY id DESC LIMIT %(limit)s",
                {"owner": owner_user_id, "limit": limit, "before": before_id},
            )
            return [Schedule(*row) for row in cur.fetchall()]

    def lock_owner_and_count_live(self, owner_user_id: int) -> int:
        """Lock the owner's user row (creates of one owner queue, so a count cannot be
        raced past), then count their active and paused schedules."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT 1 FROM users WHERE id = %(owner)s FOR NO KEY UPDATE",
                {"owner": owner_user_id},
            )
            cur.execute(
                "SELECT count(*) FROM scheduled_payments"
                " WHERE owner_user_id = %(owner)s AND status IN ('active', 'paused')",
                {"owner": owner_user_id},
            )
            return cur.fetchone()[0]

    def claim_due(self, now: datetime, limit: int) -> list[Schedule]:
        """Lock active schedules whose next instant has come; ones another worker holds
        are skipped."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_SCHEDULE} FROM scheduled_payments s
                WHERE status = 'active' AND next_due_at <= %(now)s
                ORDER BY next_due_at, id LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED
                """,
                {"now": now, "limit": limit},
            )
            return [Schedule(*row) for row in cur.fetchall()]

    def to_remind(self, now: datetime, ahead: datetime, limit: int) -> list[Schedule]:
        """Active schedules whose next instant is in (now, ahead] and not reminded of."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_SCHEDULE} FROM scheduled_payments s
                WHERE status = 'active' AND next_due_at > %(now)s
                  AND next_due_at <= %(ahead)s
                  AND reminded_for IS DISTINCT FROM next_due_at
                ORDER BY next_due_at, id LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED
                """,
                {"now": now, "ahead": ahead, "limit": limit},
            )
            return [Schedule(*row) for row in cur.fetchall()]

    def mark_reminded(self, schedule_id: int, due_at: datetime) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE scheduled_payments SET reminded_for = %(due)s WHERE id = %(id)s",
                {"id": schedule_id, "due": due_at},
            )

    def advance(self, schedule_id: int, next_due_at: datetime | None, now: datetime) -> None:
        """The next instant to make; none left: finished."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE scheduled_payments SET next_due_at = %(next)s,
                    status = CASE WHEN %(next)s::timestamptz IS NULL THEN 'finished'
                                  ELSE status END,
                    finished_at = CASE WHEN %(next)s::timestamptz IS NULL THEN %(now)s END
                WHERE id = %(id)s AND status = 'active'
                """,
                {"id": schedule_id, "next": next_due_at, "now": now},
            )

    def set_status(
        self,
        schedule_id: int,
        *,
        status: str,
        now: datetime,
        next_due_at: datetime | None = None,
    ) -> Schedule | None:
        """Pause, resume (with its next instant) or stop; None when the row is stopped
        or finished already."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                UPDATE scheduled_payments s SET status = %(status)s,
                    paused_at = CASE WHEN %(status)s = 'paused' THEN %(now)s END,
                    stopped_at = CASE WHEN %(status)s = 'stopped' THEN %(now)s END,
                    finished_at = CASE WHEN %(status)s = 'finished' THEN %(now)s END,
                    next_due_at = CASE WHEN %(status)s IN ('active', 'finished')
                                       THEN %(next)s ELSE next_due_at END,
                    consecutive_skips = CASE WHEN %(status)s = 'active' THEN 0
                                             ELSE consecutive_skips END
                WHERE id = %(id)s AND status IN ('active', 'paused')
                RETURNING {_SCHEDULE}
                """,
                {"id": schedule_id, "status": status, "now": now, "next": next_due_at},
            )
            row = cur.fetchone()
        return Schedule(*row) if row else None

    def count_skip(self, schedule_id: int, *, skipped: bool) -> int:
        """A skip adds one to the run of skips, a payment ends it; returns it (0 for a
        stopped or finished schedule, which no run of skips can pause)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE scheduled_payments
                SET consecutive_skips = CASE WHEN %(skipped)s THEN consecutive_skips + 1
                                             ELSE 0 END
                WHERE id = %(id)s AND status IN ('active', 'paused')
                RETURNING consecutive_skips
                """,
                {"id": schedule_id, "skipped": skipped},
            )
            row = cur.fetchone()
        return row[0] if row else 0

    # ---- occurrences ----------------------------------------------------------------

    def add_occurrence(self, schedule_id: int, due_at: datetime, now: datetime) -> int | None:
        """The occurrence of an instant, once; None when it exists already."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO scheduled_occurrences (schedule_id, due_at, next_attempt_at,
                                                   created_at)
                VALUES (%(schedule)s, %(due)s, %(due)s, %(now)s)
                ON CONFLICT (schedule_id, due_at) DO NOTHING
                RETURNING id
                """,
                {"schedule": schedule_id, "due": due_at, "now": now},
            )
            row = cur.fetchone()
        return row[0] if row else None

    def claim_occurrence(self, now: datetime) -> tuple[Occurrence, Schedule] | None:
        """Lock one open occurrence whose time has come, and its schedule; rows another
        worker holds are skipped, so two workers never run the same occurrence at once."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_OCCURRENCE}, {_SCHEDULE}
                FROM scheduled_occurrences o
                JOIN scheduled_payments s ON s.id = o.schedule_id
                LEFT JOIN journal_transactions j ON j.id = o.transaction_id
                WHERE o.status IN ('due', 'retrying') AND o.next_attempt_at <= %(now)s
                ORDER BY o.next_attempt_at, o.id LIMIT 1
                FOR UPDATE OF o, s SKIP LOCKED
                """,
                {"now": now},
            )
            row = cur.fetchone()
        if row is None:
            return None
        split = len(Occurrence.__slots__)
        return Occurrence(*row[:split]), Schedule(*row[split:])

    def settle(
        self,
        occurrence_id: int,
        *,
        status: str,
        now: datetime,
        transaction_id: int | None = None,
        reason: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Record an attempt's outcome on an open occurrence: paid, retrying or skipped."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE scheduled_occurrences SET status = %(status)s,
                    attempts = attempts + 1,
                    transaction_id = %(tx)s, reason = %(reason)s,
                    next_attempt_at = COALESCE(%(next)s, next_attempt_at),
                    paid_at = CASE WHEN %(status)s = 'paid' THEN %(now)s END,
                    skipped_at = CASE WHEN %(status)s = 'skipped' THEN %(now)s END
                WHERE id = %(id)s AND status IN ('due', 'retrying')
                """,
                {
                    "id": occurrence_id,
                    "status": status,
                    "now": now,
                    "tx": transaction_id,
                    "reason": reason,
                    "next": next_attempt_at,
                },
            )

    def open_occurrences(self, schedule_id: int) -> list[Occurrence]:
        """The schedule's open occurrences, their rows locked (one a worker is running
        is waited for, then read as that run left it)."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_OCCURRENCE} FROM {_OCCURRENCE_FROM}"
                " WHERE o.schedule_id = %(schedule)s AND o.status IN ('due', 'retrying')"
                " ORDER BY o.id FOR UPDATE OF o",
                {"schedule": schedule_id},
            )
            return [Occurrence(*row) for row in cur.fetchall()]

    def skip_open(self, schedule_id: int, reason: str, now: datetime) -> int:
        """Skip the schedule's open occurrences (it was paused or stopped); how many.
        The caller has recorded paid first every one whose payment the ledger holds
        (runs.halt_open): this skips what is left."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE scheduled_occurrences SET status = 'skipped', reason = %(reason)s,
                    skipped_at = %(now)s
                WHERE schedule_id = %(schedule)s AND status IN ('due', 'retrying')
                """,
                {"schedule": schedule_id, "reason": reason, "now": now},
            )
            return cur.rowcount

    def occurrences(self, schedule_id: int, limit: int) -> list[Occurrence]:
        """The schedule's occurrences, newest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_OCCURRENCE} FROM {_OCCURRENCE_FROM}"
                " WHERE o.schedule_id = %(schedule)s ORDER BY o.due_at DESC LIMIT %(limit)s",
                {"schedule": schedule_id, "limit": limit},
            )
            return [Occurrence(*row) for row in cur.fetchall()]
