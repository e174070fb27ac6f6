"""What an employer owes each authority for one month: the deductions of the lines paid
in runs dated that month, per worker and item, with each authority's total. PayTrace
reports it; the employer files and pays (docs/wages.md)."""

from __future__ import annotations

import calendar
import csv
import io
from datetime import date

from app.db.unit_of_work import UnitOfWork
from app.domain.records.wages import PayRunLine
from app.domain.wages import AUTHORITIES, ITEMS
from app.errors import NotAnEmployer, NotFound

HEADER = (
    "authority",
    "item",
    "worker_phone",
    "worker_name",
    "gross",
    "worker_share",
    "employer_share",
    "total",
)


def dues_rows(uow: UnitOfWork, employer_user_id: int, year: int, month: int) -> list[tuple]:
    """One row per worker and item, then one 'total' row per authority and item, amounts
    in cents, ordered by item. Raises NotAnEmployer, ValueError for a bad month."""
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    with uow:
        if not uow.wages.is_employer(employer_user_id):
            raise NotAnEmployer("become an employer first")
        lines = uow.wages.paid_lines_between(employer_user_id, first, last)
    rows: list[tuple] = []
    for item in ITEMS:
        totals = [0, 0, 0]
        for line in lines:
            parts = [x for x in line.deductions if x.item == item]
            if not parts:
                continue
            worker = sum(x.employee for x in parts)
            employer = sum(x.employer for x in parts)
            rows.append(
                (
                    AUTHORITIES[item],
                    item,
                    line.phone,
                    line.display_name,
                    line.gross,
                    worker,
                    employer,
                    worker + employer,
                )
            )
            totals = [totals[0] + line.gross, totals[1] + worker, totals[2] + employer]
        if any(totals):
            rows.append(
                (
                    AUTHORITIES[item],
                    item,
                    "total",
                    "",
                    totals[0],
                    totals[1],
                    totals[2],
                    totals[1] + totals[2],
                )
            )
    return rows


def dues_csv(uow: UnitOfWork, employer_user_id: int, year: int, month: int) -> str:
    """dues_rows as CSV, amounts in cents; the same errors."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for row in dues_rows(uow, employer_user_id, year, month):
        # A name is the employer's typing: never let a spreadsheet read it as a formula.
        writer.writerow([*row[:3], _cell(row[3]), *row[4:]])
    return out.getvalue()


def _cell(name: str) -> str:
    return "'" + name if name[:1] in ("=", "+", "-", "@") else name


MAX_PAYSLIPS = 12


def payslips_of_worker(uow: UnitOfWork, user_id: int) -> list[tuple[PayRunLine, date]]:
    """The lines paid to the user's phone by any employer, newest first (My pay), with
    each run's pay date. Raises NotFound for an unknown user."""
    with uow:
        user = uow.users.get_by_id(user_id)
        if user is None:
            raise NotFound("no such user")
        return uow.wages.paid_lines_of_phone(user.phone, MAX_PAYSLIPS)
