"""Employers and their workers (migration 0035), and the wage schedules that pay a
worker (part of WageRepository, app/db/repositories/wages.py)."""

from __future__ import annotations

from datetime import datetime

import psycopg2.extensions

from app.domain.records.wages import EmployedWorker

_WORKER = """w.id, w.employer_user_id, w.phone, w.display_name, w.gross_pay, w.frequency,
    w.deductions, w.status, w.created_at,
    EXISTS (SELECT 1 FROM users u WHERE u.phone = w.phone)"""


def _worker(row: tuple) -> EmployedWorker:
    return EmployedWorker(*row[:6], tuple(row[6]), *row[7:])


class EmployerWorkerRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    # ---- employers and workers ------------------------------------------------------

    def become_employer(self, user_id: int, now: datetime) -> bool:
        """True when the user became an employer now, False when already one."""
        with self._conn.cursor() as cur:
            cur.execute(
                "INSERT INTO employers (user_id, created_at) VALUES (%(user)s, %(now)s)"
                " ON CONFLICT (user_id) DO NOTHING",
                {"user": user_id, "now": now},
            )
            return cur.rowcount == 1

    def is_employer(self, user_id: int) -> bool:
        with self._conn.cursor() as cur:
            cur.execute("SELECT 1 FROM employers WHERE user_id = %(user)s", {"user": user_id})
            return cur.fetchone() is not None

    def add_worker(
        self,
        *,
        employer_user_id: int,
        phone: str,
        display_name: str,
        gross_pay: int,
        frequency: str,
        deductions: list[str],
        now: datetime,
    ) -> EmployedWorker | None:
        """A new active worker; None when the employer has an active one on this phone."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                WITH w AS (
                    INSERT INTO employed_workers (employer_user_id, phone, display_name,
                        gross_pay, frequency, deductions, created_at)
                    VALUES (%(employer)s, %(phone)s, %(name)s, %(gross)s, %(frequency)s,
                            %(deductions)s, %(now)s)
                    ON CONFLICT (employer_user_id, phone) WHERE status = 'active' DO NOTHING
                    RETURNING *
                )
                SELECT {_WORKER} FROM w
                """,
                {
                    "employer": employer_user_id,
                    "phone": phone,
                    "name": display_name,
                    "gross": gross_pay,
                    "frequency": frequency,
                    "deductions": deductions,
                    "now": now,
                },
            )
            row = cur.fetchone()
        return _worker(row) if row else None

    def active_worker_count(self, employer_user_id: int) -> int:
        """How many active workers the employer has: counted by the partial index on
        (employer, phone) of active workers, no row read back to the client."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM employed_workers"
                " WHERE employer_user_id = %(employer)s AND status = 'active'",
                {"employer": employer_user_id},
            )
            return cur.fetchone()[0]

    def workers(
        self, employer_user_id: int, *, ids: list[int] | None = None
    ) -> list[EmployedWorker]:
        """The employer's active workers (those of `ids` only, when given), oldest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_WORKER} FROM employed_workers w
                WHERE w.employer_user_id = %(employer)s AND w.status = 'active'
                  AND (%(all)s OR w.id = ANY(%(ids)s))
                ORDER BY w.id
                """,
                {"employer": employer_user_id, "all": ids is None, "ids": ids or []},
            )
            return [_worker(row) for row in cur.fetchall()]

    def remove_worker(self, employer_user_id: int, worker_id: int, now: datetime) -> bool:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE employed_workers SET status = 'removed', removed_at = %(now)s
                WHERE id = %(id)s AND employer_user_id = %(employer)s AND status = 'active'
                """,
                {"id": worker_id, "employer": employer_user_id, "now": now},
            )
            return cur.rowcount == 1

    def update_terms(
        self,
        employer_user_id: int,
        worker_id: int,
        *,
        display_name: str,
        gross_pay: int,
        frequency: str,
        deductions: list[str],
    ) -> EmployedWorker | None:
        """An active worker's new terms; None when the employer has no such worker."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                WITH w AS (
                    UPDATE employed_workers SET display_name = %(name)s,
                        gross_pay = %(gross)s, frequency = %(frequency)s,
                        deductions = %(deductions)s
                    WHERE id = %(id)s AND employer_user_id = %(employer)s
                      AND status = 'active'
                    RETURNING *
                )
                SELECT {_WORKER} FROM w
                """,
                {
                    "id": worker_id,
                    "employer": employer_user_id,
                    "name": display_name,
                    "gross": gross_pay,
                    "frequency": frequency,
                    "deductions": deductions,
                },
            )
            row = cur.fetchone()
        return _worker(row) if row else None

    def live_schedule_frequencies(self, employer_user_id: int, worker_id: int) -> set[str]:
        """The frequencies of the employer's active and paused wage schedules of a worker."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT DISTINCT frequency FROM scheduled_payments
                WHERE owner_user_id = %(employer)s AND kind = 'wage' AND payee = %(payee)s
                  AND status IN ('active', 'paused')
                """,
                {"employer": employer_user_id, "payee": str(worker_id)},
            )
            return {row[0] for row in cur.fetchall()}

    def next_pay_dates(self, phone: str, limit: int) -> list[tuple[str, datetime]]:
        """For a worker's phone: each active wage schedule paying it (its employer's
        name, its next instant), soonest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT u.full_name, s.next_due_at
                FROM employed_workers w
                JOIN scheduled_payments s ON s.kind = 'wage' AND s.payee = w.id::text
                JOIN users u ON u.id = s.owner_user_id
                WHERE w.phone = %(phone)s AND w.status = 'active'
                  AND s.status = 'active' AND s.next_due_at IS NOT NULL
                ORDER BY s.next_due_at, s.id LIMIT %(limit)s
                """,
                {"phone": phone, "limit": limit},
            )
            return [(row[0], row[1]) for row in cur.fetchall()]
