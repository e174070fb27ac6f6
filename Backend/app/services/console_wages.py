"""The console's wages report: per Nairobi month, each employer's paid lines summed and
what is due to each authority (NSSF, SHA, KRA), found by the employer's phone or
PayTrace ID; an employer's month line by line. The CSV of the same report is the
employer API's (`wages.reports.dues_csv`). Reads only."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from app.db.unit_of_work import UnitOfWork
from app.domain.records.wages import EmployerMonth, MonthLine
from app.domain.wages import ITEMS
from app.errors import NotAnEmployer
from app.services.console_users import phone_of
from app.services.wages.line_payments import dues_code


@dataclass(frozen=True)
class EmployerCard:
    employer_user_id: int
    paytrace_id: str
    phone: str
    full_name: str
    month: EmployerMonth | None  # None: no line paid in runs dated that month
    lines: tuple[MonthLine, ...]  # every line of the month's approved runs
    # Each item's wage_dues account now: what every month's paid lines accrued (nothing
    # leaves those accounts yet, docs/wages.md), the ledger's side of the report.
    accrued: dict[str, int]


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """The first and last day of a month. Raises ValueError for a bad month."""
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def page(
    uow: UnitOfWork, year: int, month: int, *, search: str, after_id: int | None, limit: int
) -> tuple[list[EmployerMonth], bool]:
    """Employers with a line paid in runs dated that month, by user id, after after_id;
    a search (a phone in any format or a PayTrace ID) keeps its user's row only (none
    when it names no user). Whether more rows follow. Raises ValueError for a bad month."""
    first, last = month_bounds(year, month)
    employer_user_id = None
    if search.strip():
        phone = phone_of(uow, search)
        with uow:
            user = uow.users.get_by_phone(phone) if phone is not None else None
        if user is None:
            return [], False
        employer_user_id = user.id
    with uow:
        rows = uow.console_wages.employer_months(
            first, last, employer_user_id=employer_user_id, after_id=after_id, limit=limit + 1
        )
    return rows[:limit], len(rows) > limit


def card(uow: UnitOfWork, employer_user_id: int, year: int, month: int) -> EmployerCard:
    """An employer's month: its sums and dues, each line of its runs dated that month
    with the run's reference, and its dues accounts' balances. Raises NotAnEmployer,
    ValueError for a bad month."""
    first, last = month_bounds(year, month)
    with uow:
        user = uow.users.get_by_id(employer_user_id)
        if user is None or not uow.wages.is_employer(employer_user_id):
            raise NotAnEmployer("no such employer")
        found = uow.console_wages.employer_months(
            first, last, employer_user_id=employer_user_id, limit=1
        )
        lines = uow.wages.month_lines(employer_user_id, first, last)
        codes = {item: dues_code(employer_user_id, item) for item in ITEMS}
        balances = uow.console_wages.balances(list(codes.values()))
    return EmployerCard(
        employer_user_id=employer_user_id,
        paytrace_id=user.paytrace_id,
        phone=user.phone,
        full_name=user.full_name,
        month=found[0] if found else None,
        lines=tuple(lines),
        accrued={item: balances.get(code, 0) for item, code in codes.items()},
    )
