"""Pay runs (migration 0035): a draft and its queued lines written together, then
approved, held, paid and settled (part of WageRepository,
app/db/repositories/wages.py, whose docstring gives the lock order)."""

from __future__ import annotations

import json
from datetime import date, datetime

import psycopg2.extensions
from psycopg2.extras import execute_values

from app.domain.records.wages import EmployedWorker, PayRun
from app.domain.wages import PayLine, Payslip

_RUN = """r.id, r.reference, r.employer_user_id, r.pay_date, r.status, r.total_cost,
    r.channel, r.request_hash, r.hold_id, r.hold_day, r.created_at, r.approved_at,
    r.ended_at"""


class PayRunRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    # ---- pay runs ----------------------------------------------------------------------

    def insert_run(
        self,
        *,
        reference: str,
        employer_user_id: int,
        pay_date: date,
        total_cost: int,
        channel: str,
        idempotency_key: str,
        request_hash: str,
        now: datetime,
        lines: list[tuple[EmployedWorker, Payslip]],
    ) -> int | None:
        """A draft run and its queued lines; its id, or None when the employer used this
        key before (nothing written)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO pay_runs (reference, employer_user_id, pay_date, total_cost,
                    channel, idempotency_key, request_hash, created_at)
                VALUES (%(reference)s, %(employer)s, %(pay_date)s, %(total)s, %(channel)s,
                        %(key)s, %(hash)s, %(now)s)
                ON CONFLICT (employer_user_id, idempotency_key) DO NOTHING
                RETURNING id
                """,
                {
                    "reference": reference,
                    "employer": employer_user_id,
                    "pay_date": pay_date,
                    "total": total_cost,
                    "channel": channel,
                    "key": idempotency_key,
                    "hash": request_hash,
                    "now": now,
                },
            )
            row = cur.fetchone()
            if row is None:
                return None
            execute_values(
                cur,
                """
                INSERT INTO pay_run_lines (pay_run_id, worker_id, phone, display_name, gross,
                    frequency, deductions, employee_deductions, employer_contributions, net)
                VALUES %s
                """,
                [
                    (
                        row[0],
                        worker.id,
                        worker.phone,
                        worker.display_name,
                        slip.gross,
                        slip.frequency,
                        json.dumps([_line_json(line) for line in slip.lines]),
                        slip.employee_deductions,
                        slip.employer_contributions,
                        slip.net,
                    )
                    for worker, slip in lines
                ],
                page_size=1000,
            )
            return row[0]

    def run(
        self, run_id: int, *, employer_user_id: int | None = None, for_update: bool = False
    ) -> PayRun | None:
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_RUN} FROM pay_runs r
                WHERE r.id = %(id)s AND (%(employer)s::bigint IS NULL
                                         OR r.employer_user_id = %(employer)s)
                """
                + (" FOR UPDATE" if for_update else ""),
                {"id": run_id, "employer": employer_user_id},
            )
            row = cur.fetchone()
        return PayRun(*row) if row else None

    def run_by_key(
        self, employer_user_id: int, key: str, *, for_update: bool = False
    ) -> PayRun | None:
        with self._conn.cursor() as cur:
            cur.execute(
                f"""SELECT {_RUN} FROM pay_runs r
                WHERE r.employer_user_id = %(employer)s AND r.idempotency_key = %(key)s"""
                + (" FOR UPDATE" if for_update else ""),
                {"employer": employer_user_id, "key": key},
            )
            row = cur.fetchone()
        return PayRun(*row) if row else None

    def runs(self, employer_user_id: int, limit: int) -> list[PayRun]:
        with self._conn.cursor() as cur:
            cur.execute(
                f"""SELECT {_RUN} FROM pay_runs r WHERE r.employer_user_id = %(employer)s
                ORDER BY r.id DESC LIMIT %(limit)s""",
                {"employer": employer_user_id, "limit": limit},
            )
            return [PayRun(*row) for row in cur.fetchall()]

    def mark_funded(self, run_id: int, *, hold_id: int, hold_day: date, now: datetime) -> None:
        """A draft or approved run, held; an approved run keeps when it was approved."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE pay_runs SET status = 'funded', hold_id = %(hold)s, hold_day = %(day)s,
                    approved_at = COALESCE(approved_at, %(now)s)
                WHERE id = %(id)s AND status IN ('draft', 'approved')
                """,
                {"id": run_id, "hold": hold_id, "day": hold_day, "now": now},
            )
            assert cur.rowcount == 1, "the run's row is locked and was not yet held"

    def mark_approved(self, run_id: int, now: datetime) -> None:
        """A draft approved without its money: it waits for funds (nothing held)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE pay_runs SET status = 'approved', approved_at = %(now)s
                WHERE id = %(id)s AND status = 'draft'
                """,
                {"id": run_id, "now": now},
            )
            assert cur.rowcount == 1, "the run's row is locked and was a draft"

    def cancel_run(self, run_id: int, now: datetime) -> None:
        """A draft or approved run (nothing held) closed for good."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE pay_runs SET status = 'canceled', ended_at = %(now)s
                WHERE id = %(id)s AND status IN ('draft', 'approved')
                """,
                {"id": run_id, "now": now},
            )
            assert cur.rowcount == 1, "the run's row is locked and held nothing"

    def settle_run_status(self, run_id: int, now: datetime) -> str:
        """After a line ended: paying while lines are queued, then completed (every line
        paid) or partially_failed. Returns the run's status."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE pay_runs r SET
                    status = CASE
                        WHEN s.queued > 0 THEN 'paying'
                        WHEN s.failed > 0 THEN 'partially_failed'
                        ELSE 'completed' END,
                    ended_at = CASE WHEN s.queued > 0 THEN NULL ELSE %(now)s END
                FROM (SELECT count(*) FILTER (WHERE status = 'queued') AS queued,
                             count(*) FILTER (WHERE status IN ('failed', 'retried')) AS failed
                      FROM pay_run_lines WHERE pay_run_id = %(id)s) s
                WHERE r.id = %(id)s AND r.status IN ('funded', 'paying')
                RETURNING r.status
                """,
                {"id": run_id, "now": now},
            )
            row = cur.fetchone()
        return row[0] if row else ""


def _line_json(line: PayLine) -> dict[str, object]:
    return {
        "code": line.code,
        "item": line.item,
        "employee": line.employee,
        "employer": line.employer,
    }
