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
    status: str  # draft | approved | funded | paying | completed | partially_failed
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
