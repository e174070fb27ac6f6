"""The console's reconciliation page: the latest ledger-against-Stellar report and its
drift, the latest M-Pesa report and its differences, and both by day. Reads the reports
the reconciliation jobs stored (`reconciliation.reconcile`, `mpesa_reconciliation`);
it runs neither."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from app.db.unit_of_work import UnitOfWork
from app.domain.money import NAIROBI
from app.domain.records.mpesa import StoredItem, StoredMpesaReport
from app.domain.records.settlement import StoredReport

HISTORY_DAYS = 30
LISTED_ITEMS = 50  # differences of the latest M-Pesa report shown
OFFSET = timedelta(hours=3)  # Nairobi's, as the dashboard's days


@dataclass(frozen=True)
class StellarDay:
    day: date  # Nairobi day the runs finished
    runs: int
    last_drifts: int
    most_drifts: int
    accounts: int  # parties the day's last run checked


@dataclass(frozen=True)
class Reconciliation:
    stellar: StoredReport | None  # the latest run; None before the first
    stellar_days: tuple[StellarDay, ...]  # newest first, days with a run only
    mpesa: StoredMpesaReport | None  # the latest version of the latest day reconciled
    mpesa_items: tuple[StoredItem, ...]  # its first LISTED_ITEMS differences
    mpesa_days: tuple[StoredMpesaReport, ...]  # each day's latest version, newest first


def overview(uow: UnitOfWork, now: datetime | None = None) -> Reconciliation:
    """Both reconciliations' latest reports and their last HISTORY_DAYS days. Reads only;
    raises ServiceUnavailable."""
    now = now or datetime.now(UTC)
    today = now.astimezone(NAIROBI).date()
    first = today - timedelta(days=HISTORY_DAYS - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=NAIROBI)
    with uow:
        stellar = uow.reconciliation.latest_report()
        stellar_days = tuple(
            StellarDay(*row) for row in uow.reconciliation.daily_runs(since, OFFSET)
        )
        mpesa = uow.mpesa_reconciliation.report(None)
        items = uow.mpesa_reconciliation.items(mpesa.id, LISTED_ITEMS) if mpesa else []
        mpesa_days = tuple(uow.mpesa_reconciliation.latest_per_day(first - timedelta(days=1)))
    return Reconciliation(stellar, stellar_days, mpesa, tuple(items), mpesa_days)


@dataclass(frozen=True)
class DriftSeries:
    """The dashboard's reconciliation chart: every Nairobi day of the window, oldest
    first; None where no report was stored that day (not the same as no drift)."""

    days: tuple[date, ...]
    stellar_drifting: tuple[int | None, ...]  # parties drifting at the day's last run
    stellar_most: tuple[int | None, ...]  # most drifting at any run that day
    mpesa_differences: tuple[int | None, ...]  # the day's latest M-Pesa report's


def drift_by_day(seen: Reconciliation, now: datetime) -> DriftSeries:
    """The reports `overview` read (at `now`), one entry a day over HISTORY_DAYS."""
    today = now.astimezone(NAIROBI).date()
    days = tuple(today - timedelta(days=n) for n in range(HISTORY_DAYS - 1, -1, -1))
    stellar = {d.day: d for d in seen.stellar_days}
    mpesa = {m.day: m.differences for m in seen.mpesa_days}
    return DriftSeries(
        days,
        tuple(stellar[d].last_drifts if d in stellar else None for d in days),
        tuple(stellar[d].most_drifts if d in stellar else None for d in days),
        tuple(mpesa.get(d) for d in days),
    )
