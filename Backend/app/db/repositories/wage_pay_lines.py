"""A pay run's lines (migration 0035): each worker's payslip, ended paid or failed,
and the paid lines read back by worker, by employer and by month (part of
WageRepository, app/db/repositories/wages.py, whose docstring gives the lock order)."""

from __future__ import annotations

from datetime import date, datetime

import psycopg2.extensions

from app.domain.records.wages import MonthLine, PayRunLine
from app.domain.wages import PayLine

_LINE = """l.id, l.pay_run_id, l.worker_id, l.phone, l.display_name, l.gross, l.frequency,
    l.deductions, l.employee_deductions, l.employer_contributions, l.net, l.status,
    l.transaction_id, l.failure, l.ended_at, j.reference"""
_LINE_FROM = "pay_run_lines l LEFT JOIN journal_transactions j ON j.id = l.transaction_id"


def _line(row: tuple) -> PayRunLine:
    lines = tuple(PayLine(**line) for line in row[7])
    return PayRunLine(*row[:7], lines, *row[8:])


class PayRunLineRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    # ---- lines -------------------------------------------------------------------------

    def lines(self, run_id: int) -> list[PayRunLine]:
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_LINE} FROM {_LINE_FROM} WHERE l.pay_run_id = %(run)s ORDER BY l.id",
                {"run": run_id},
            )
            return [_line(row) for row in cur.fetchall()]

    def line_for_update(self, line_id: int) -> PayRunLine | None:
        with self._conn.cursor() as cur:
            cur.execute(
                f"SELECT {_LINE} FROM {_LINE_FROM} WHERE l.id = %(id)s FOR UPDATE OF l",
                {"id": line_id},
            )
            row = cur.fetchone()
        return _line(row) if row else None

    def end_line(
        self,
        line_id: int,
        *,
        status: str,
        transaction_id: int,
        now: datetime,
        failure: str | None = None,
    ) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE pay_run_lines SET status = %(status)s, transaction_id = %(tx)s,
                    failure = %(failure)s, ended_at = %(now)s
                WHERE id = %(id)s AND status = 'queued'
                """,
                {
                    "id": line_id,
                    "status": status,
                    "tx": transaction_id,
                    "failure": failure,
                    "now": now,
                },
            )
            assert cur.rowcount == 1, "the line's row is locked and was queued"

    def mark_retried(self, run_id: int, worker_ids: list[int]) -> None:
        """The run's failed lines of these workers, put into a new run."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE pay_run_lines SET status = 'retried'
                WHERE pay_run_id = %(run)s AND worker_id = ANY(%(workers)s)
                  AND status = 'failed'
                """,
                {"run": run_id, "workers": worker_ids},
            )

    def paid_lines_of_phone(self, phone: str, limit: int) -> list[tuple[PayRunLine, date]]:
        """The lines paid to a phone, newest first, with their run's pay date."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_LINE}, r.pay_date FROM {_LINE_FROM}
                JOIN pay_runs r ON r.id = l.pay_run_id
                WHERE l.phone = %(phone)s AND l.status = 'paid'
                ORDER BY l.id DESC LIMIT %(limit)s
                """,
                {"phone": phone, "limit": limit},
            )
            return [(_line(row[:-1]), row[-1]) for row in cur.fetchall()]

    def paid_lines_between(
        self, employer_user_id: int, first: date, last: date
    ) -> list[PayRunLine]:
        """The employer's paid lines of runs dated first..last, in run and line order."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_LINE} FROM {_LINE_FROM}
                JOIN pay_runs r ON r.id = l.pay_run_id
                WHERE r.employer_user_id = %(employer)s AND l.status = 'paid'
                  AND r.pay_date BETWEEN %(first)s AND %(last)s
                ORDER BY r.id, l.id
                """,
                {"employer": employer_user_id, "first": first, "last": last},
            )
            return [_line(row) for row in cur.fetchall()]

    def month_lines(self, employer_user_id: int, first: date, last: date) -> list[MonthLine]:
        """Every line of the employer's runs dated first..last that were held (a draft,
        a run waiting for funds or one canceled moves nothing), whatever its status, in
        run and line order."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_LINE}, r.reference, r.pay_date FROM {_LINE_FROM}
                JOIN pay_runs r ON r.id = l.pay_run_id
                WHERE r.employer_user_id = %(employer)s AND r.hold_id IS NOT NULL
                  AND r.pay_date BETWEEN %(first)s AND %(last)s
                ORDER BY r.id, l.id
                """,
                {"employer": employer_user_id, "first": first, "last": last},
            )
            return [MonthLine(_line(row[:-2]), row[-2], row[-1]) for row in cur.fetchall()]
