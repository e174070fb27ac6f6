"""Employers, their workers, pay runs and their lines (migration 0035).

Lock order, for every caller: a line's row, then its run's row, then ledger accounts
(in id order, LedgerRepository.accounts): approving and paying lines never wait on
each other the other way round.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import psycopg2.extensions
from psycopg2.extras import execute_values

from app.domain.records.wages import EmployedWorker, MonthLine, PayRun, PayRunLine
from app.domain.wages import PayLine, Payslip

_WORKER = """w.id, w.employer_user_id, w.phone, w.display_name, w.gross_pay, w.frequency,
    w.deductions, w.status, w.created_at,
    EXISTS (SELECT 1 FROM users u WHERE u.phone = w.phone)"""
_RUN = """r.id, r.reference, r.employer_user_id, r.pay_date, r.status, r.total_cost,
    r.channel, r.request_hash, r.hold_id, r.hold_day, r.created_at, r.approved_at,
    r.ended_at"""
_LINE = """l.id, l.pay_run_id, l.worker_id, l.phone, l.display_name, l.gross, l.frequency,
    l.deductions, l.employee_deductions, l.employer_contributions, l.net, l.status,
    l.transaction_id, l.failure, l.ended_at, j.reference"""
_LINE_FROM = "pay_run_lines l LEFT JOIN journal_transactions j ON j.id = l.transaction_id"


def _worker(row: tuple) -> EmployedWorker:
    return EmployedWorker(*row[:6], tuple(row[6]), *row[7:])


def _line(row: tuple) -> PayRunLine:
    lines = tuple(PayLine(**line) for line in row[7])
    return PayRunLine(*row[:7], lines, *row[8:])


class WageRepository:
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

    def open_accounts(self, kind: str, codes: list[str]) -> None:
        """Wages' system accounts (kind wage_hold or wage_dues), opened on first use."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO ledger_accounts (kind, code)
                SELECT %(kind)s, code FROM unnest(%(codes)s::text[]) AS code
                ON CONFLICT (code) DO NOTHING
                """,
                {"kind": kind, "codes": codes},
            )


def _line_json(line: PayLine) -> dict[str, object]:
    return {
        "code": line.code,
        "item": line.item,
        "employee": line.employee,
        "employer": line.employer,
    }
