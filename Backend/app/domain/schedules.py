"""When a scheduled payment falls due: weekly on a weekday, or monthly on a day of the
month, at a time of day in Nairobi, from a start date until a date or a count.

Pure: no I/O, no clock. Kenya keeps UTC+3 all year (no daylight saving), so a Nairobi
wall-clock time is one fixed UTC instant and no tz database is needed.

A monthly schedule on day 31 (or 29, 30) pays on the month's last day when the month is
shorter: the 31st becomes Feb 28 (Feb 29 in a leap year), Apr 30, ...; the next month
goes back to the 31st. The day is the rule, never the last date paid, so a schedule
never drifts to the 28th.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app.domain.money import NAIROBI

FREQUENCIES = ("weekly", "monthly")
# A schedule runs at most this long and this often: enough for a lease or a school
# year, and a bound on every walk over its dates.
MAX_YEARS = 5
MAX_COUNT = 260
# A weekly schedule's day: ISO weekday, Monday 1 to Sunday 7.
WEEKDAYS = range(1, 8)
MONTH_DAYS = range(1, 32)


class InvalidSchedule(ValueError):
    """The reason is one of: 'frequency', 'day', 'until', 'count', 'until_and_count'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Recurrence:
    frequency: str  # weekly | monthly
    day: int  # weekly: ISO weekday 1-7; monthly: day of the month 1-31
    at: time  # Nairobi wall-clock time, naive
    start: date  # the first date that may be due
    until: date | None = None  # the last date that may be due
    count: int | None = None  # how many occurrences at most


def check(rule: Recurrence) -> Recurrence:
    """The rule itself, or InvalidSchedule with the first thing wrong with it."""
    if rule.frequency not in FREQUENCIES:
        raise InvalidSchedule("frequency")
    days = WEEKDAYS if rule.frequency == "weekly" else MONTH_DAYS
    if rule.day not in days:
        raise InvalidSchedule("day")
    if rule.until is not None and rule.count is not None:
        raise InvalidSchedule("until_and_count")
    if rule.until is not None and not rule.start <= rule.until <= last_allowed(rule.start):
        raise InvalidSchedule("until")
    if rule.count is not None and not 1 <= rule.count <= MAX_COUNT:
        raise InvalidSchedule("count")
    return rule


def last_allowed(start: date) -> date:
    """The last date a schedule starting on `start` may run: the day before MAX_YEARS on."""
    return month_day(start.year + MAX_YEARS, start.month, start.day) - timedelta(days=1)


def month_day(year: int, month: int, day: int) -> date:
    """Day `day` of the month, or the month's last day when it is shorter."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def due_dates(rule: Recurrence) -> Iterator[date]:
    """Every date the rule is due, in order, from start to until / count (and at most
    MAX_YEARS on)."""
    end = min(rule.until or date.max, last_allowed(rule.start))
    for made, day in enumerate(_candidates(rule)):
        if day > end or (rule.count is not None and made >= rule.count):
            return
        yield day


def _candidates(rule: Recurrence) -> Iterator[date]:
    if rule.frequency == "weekly":
        day = rule.start + timedelta(days=(rule.day - rule.start.isoweekday()) % 7)
        while True:
            yield day
            day += timedelta(days=7)
    year, month = rule.start.year, rule.start.month
    while True:
        day = month_day(year, month, rule.day)
        if day >= rule.start:
            yield day
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def due_at(rule: Recurrence, day: date) -> datetime:
    """The instant (aware, Nairobi time) the rule is due on `day`."""
    return datetime.combine(day, rule.at, tzinfo=NAIROBI)


def next_due(rule: Recurrence, after: datetime | None = None) -> datetime | None:
    """The first instant the rule is due strictly after `after` (the first of all with
    None); None when it is due no more."""
    for day in due_dates(rule):
        moment = due_at(rule, day)
        if after is None or moment > after:
            return moment
    return None


def due_between(rule: Recurrence, after: datetime | None, upto: datetime) -> list[datetime]:
    """The instants the rule is due in (after, upto], in order."""
    found = []
    for day in due_dates(rule):
        moment = due_at(rule, day)
        if moment > upto:
            break
        if after is None or moment > after:
            found.append(moment)
    return found
