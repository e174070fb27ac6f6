"""M-Pesa reconciliation: one East Africa Time day of PayTrace's deposits and
withdrawals against M-Pesa's account statement, stored as that day's next report.

It reports; it never moves money. The comparison itself is pure
(app/domain/mpesa_reconciliation.py); this service gathers both sides - the statements
of the day and of its two neighbours, PayTrace's movements recorded over the same
three days, so that a payment straddling midnight is matched and reported once - and
stores the result. Re-running a day stores a new version of its report; the earlier
versions stay (the latest is the day's answer).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from app.db.repositories.mpesa_reconciliation import StoredItem, StoredMpesaReport
from app.db.unit_of_work import UnitOfWork
from app.domain.mpesa_reconciliation import Comparison, compare, day_bounds, eat_day
from app.integrations.mpesa_statement import MpesaStatement, StatementUnavailable

log = logging.getLogger("paytrace.mpesa_reconciliation")

LISTED = 500  # items a read of a report returns at most (all are stored and counted)
LOGGED = 20  # differences logged one by one per run


@dataclass(frozen=True)
class MpesaReport:
    id: int
    version: int
    source: str
    started_at: datetime
    finished_at: datetime
    comparison: Comparison

    @property
    def day(self) -> date:
        return self.comparison.day

    @property
    def sound(self) -> bool:
        return self.comparison.sound


def yesterday(now: datetime) -> date:
    """The East Africa Time day before `now`'s: the one the daily job reconciles."""
    return eat_day(now) - timedelta(days=1)


def reconcile_day(
    uow: UnitOfWork,
    statement: MpesaStatement,
    day: date,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> MpesaReport:
    """Compare `day`'s deposits and withdrawals with M-Pesa's statement, store the report
    (the day's next version) and return it.

    Raises StatementUnavailable when the day's statement is not there yet or cannot be
    read, and ServiceUnavailable when PostgreSQL cannot be reached: nothing is stored.
    """
    started = clock()
    if day > eat_day(started):
        raise ValueError("a day that has not begun cannot be reconciled")
    own = statement.entries(day)
    if own is None:
        raise StatementUnavailable(f"no M-Pesa statement for {day.isoformat()} yet")
    entries = list(own)
    for neighbour in (day - timedelta(days=1), day + timedelta(days=1)):
        # A neighbour's statement only helps to place a payment straddling midnight:
        # one not there yet (tomorrow's) is taken as empty.
        entries.extend(statement.entries(neighbour) or [])
    start, _ = day_bounds(day - timedelta(days=1))
    _, end = day_bounds(day + timedelta(days=1))
    with uow:
        movements = uow.mpesa_reconciliation.movements(start, end)
    comparison = compare(day, movements, entries)
    finished = clock()
    with uow:
        report_id, version = uow.mpesa_reconciliation.add_report(
            day=day,
            source=statement.name,
            started_at=started,
            finished_at=finished,
            matched=comparison.matched,
            differences=comparison.differences,
            totals=comparison.totals.as_json(),
        )
        uow.commit()
    report = MpesaReport(report_id, version, statement.name, started, finished, comparison)
    _log(report)
    return report


def _log(report: MpesaReport) -> None:
    comparison = report.comparison
    fields = {
        "report_id": report.id,
        "day": report.day.isoformat(),
        "version": report.version,
        "matched": comparison.matched,
        "differences": len(comparison.differences),
        **comparison.totals.as_json()["counts"],
    }
    if report.sound:
        log.info("M-Pesa reconciliation: PayTrace and M-Pesa agree", extra=fields)
        return
    log.error("M-Pesa reconciliation: differences with M-Pesa's statement", extra=fields)
    for difference in comparison.differences[:LOGGED]:
        movement, entry = difference.movement, difference.entry
        log.error(
            "M-Pesa reconciliation difference",
            extra={
                "kind": difference.kind,
                "direction": difference.direction,
                "reference": movement.reference if movement else None,
                "status": movement.status if movement else None,
                "receipt": entry.receipt if entry else None,
                "delta": difference.delta,
            },
        )


def report(
    uow: UnitOfWork, day: date | None = None, *, listed: int = LISTED
) -> tuple[StoredMpesaReport, list[StoredItem]] | None:
    """The latest version of `day`'s report (without a day: of the most recent day
    reconciled) with its first `listed` items; None when there is none. Raises
    ServiceUnavailable."""
    with uow:
        stored = uow.mpesa_reconciliation.report(day)
        if stored is None:
            return None
        return stored, uow.mpesa_reconciliation.items(stored.id, listed)


def reconciled(uow: UnitOfWork, day: date) -> bool:
    """Whether `day` has a report already. Raises ServiceUnavailable."""
    with uow:
        return uow.mpesa_reconciliation.report(day) is not None
