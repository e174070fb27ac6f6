"""The console dashboard's figures, every one from PostgreSQL.

Days are Nairobi calendar days (as the limits count them); "value moved" is the sum of
the journal transactions that touched a user's wallet, so movements between PayTrace's
own accounts are not counted as business (app/db/repositories/console.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from app.db.unit_of_work import UnitOfWork
from app.domain.money import NAIROBI
from app.domain.records.console import DayTotal, Movement

WINDOWS_DAYS = (1, 7, 30)  # today, the last 7 days, the last 30 days (today included)
SERIES_DAYS = 30


@dataclass(frozen=True)
class Window:
    days: int
    moved: Movement
    registrations: int


@dataclass(frozen=True)
class Dashboard:
    at: datetime
    windows: tuple[Window, ...]  # in WINDOWS_DAYS order
    daily: tuple[DayTotal, ...]  # the last SERIES_DAYS days, oldest first, zero-filled


def day_start(days_back: int, now: datetime) -> datetime:
    """The start of the Nairobi day days_back days before now's (0: today's)."""
    today = now.astimezone(NAIROBI).date()
    return datetime.combine(today - timedelta(days=days_back), time.min, tzinfo=NAIROBI)


def dashboard(uow: UnitOfWork, now: datetime | None = None) -> Dashboard:
    """Value moved, movements and registrations today / 7 / 30 days, and the daily series.
    Read-only; raises ServiceUnavailable."""
    now = now or datetime.now(UTC)
    # Up to the end of today: a row committed a moment after `now` still counts today.
    until = day_start(-1, now)
    with uow:
        windows = tuple(
            Window(
                days=days,
                moved=uow.console.movements(day_start(days - 1, now), until),
                registrations=uow.console.registrations(day_start(days - 1, now), until),
            )
            for days in WINDOWS_DAYS
        )
        today = now.astimezone(NAIROBI).date()
        offset = NAIROBI.utcoffset(None)
        assert offset is not None
        daily = tuple(
            uow.console.daily_movements(
                today - timedelta(days=SERIES_DAYS - 1),
                today,
                offset,
                day_start(SERIES_DAYS - 1, now),
            )
        )
    return Dashboard(at=now, windows=windows, daily=daily)
