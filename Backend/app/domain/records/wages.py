"""Employers' workers, pay runs and their lines as the repositories read them (plain
records; the payslip arithmetic is app/domain/wages.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from app.domain.wages import PayLine


@dataclass(frozen=True, slots=True)
class EmployedWorker:
    id: int
    employer_user_id: int
    phone: str
    display_name: str
    gross_pay: int  # cents, each pay
    frequency: str  # monthly | weekly | daily
    deductions: tuple[str, ...]  # the statutory items the worker pays
    status: str  # active | removed
    created_at: datetime
    registered: bool  # the phone is on PayTrace now


@dataclass(frozen=True, slots=True)
class PayRun:
    id: int
    reference: str
    employer_user_id: int
    pay_date: date
    status: str  # draft | approved | funded | paying | completed | partially_failed | canceled
    total_cost: int  # cents: gross pay and employer shares of every line
    channel: str
    request_hash: str
    hold_id: int | None
    hold_day: date | None
    created_at: datetime
    approved_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class PayRunLine:
    id: int
    pay_run_id: int
    worker_id: int
    phone: str
    display_name: str
    gross: int
    frequency: str
    deductions: tuple[PayLine, ...]
    employee_deductions: int
    employer_contributions: int
    net: int
    status: str  # queued | paid | failed | retried
    transaction_id: int | None
    failure: str | None
    ended_at: datetime | None
    reference: str | None  # the payment's (or release's) journal reference

    @property
    def cost(self) -> int:
        """What the line holds of the employer's money."""
        return self.gross + self.employer_contributions


@dataclass(frozen=True, slots=True)
class ItemDue:
    item: str  # one of app.domain.wages.ITEMS
    employee: int  # cents: the workers' shares
    employer: int  # cents: the employer's share

    @property
    def total(self) -> int:
        return self.employee + self.employer


@dataclass(frozen=True, slots=True)
class EmployerMonth:
    """One employer's paid lines of the runs dated in one month, summed (the console)."""

    employer_user_id: int
    paytrace_id: str
    phone: str
    full_name: str
    runs: int  # pay runs with a line paid
    workers: int  # distinct phones paid
    gross: int
    net: int
    dues: tuple[ItemDue, ...]  # one per item with a deduction, in ITEMS order

    @property
    def total_due(self) -> int:
        return sum(due.total for due in self.dues)

    def due(self, item: str) -> ItemDue:
        """The item's dues (zero when no line paid it)."""
        return next((d for d in self.dues if d.item == item), ItemDue(item, 0, 0))


@dataclass(frozen=True, slots=True)
class MonthLine:
    """A line of a run dated in the month, with its run's reference and pay date."""

    line: PayRunLine
    run_reference: str
    pay_date: date
