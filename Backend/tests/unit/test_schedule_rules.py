"""When a scheduled payment falls due (app/domain/schedules.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from app.domain.money import NAIROBI
from app.domain.schedules import (
    MAX_COUNT,
    InvalidSchedule,
    Recurrence,
    check,
    due_between,
    due_dates,
    last_allowed,
    month_day,
    next_due,
)

NINE = time(9, 0)


def monthly(day: int, start: date, **kw) -> Recurrence:
    return Recurrence("monthly", day, NINE, start, **kw)


def test_the_31st_is_the_last_day_of_shorter_months_and_back_to_the_31st_after():
    rule = monthly(31, date(2027, 1, 1), count=6)
    assert list(due_dates(rule)) == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
        date(2027, 5, 31),
        date(2027, 6, 30),
    ]


def test_february_has_a_29th_in_a_leap_year_only():
    rule = monthly(29, date(2027, 12, 1), count=4)
    assert [d for d in due_dates(rule) if d.month == 2] == [date(2028, 2, 29)]
    rule = monthly(29, date(2026, 12, 1), count=4)
    assert [d for d in due_dates(rule) if d.month == 2] == [date(2027, 2, 28)]
    assert month_day(2100, 2, 29) == date(2100, 2, 28)  # not a leap year
    assert month_day(2000, 2, 30) == date(2000, 2, 29)  # a leap year


def test_a_monthly_schedule_starting_after_its_day_begins_next_month():
    rule = monthly(5, date(2027, 3, 6), count=2)
    assert list(due_dates(rule)) == [date(2027, 4, 5), date(2027, 5, 5)]


def test_a_monthly_schedule_starting_on_its_day_is_due_that_day():
    rule = monthly(6, date(2027, 3, 6), count=1)
    assert list(due_dates(rule)) == [date(2027, 3, 6)]


def test_weekly_on_a_weekday_from_the_start_date():
    # 2027-03-03 is a Wednesday; Friday is ISO weekday 5.
    rule = Recurrence("weekly", 5, NINE, date(2027, 3, 3), count=3)
    assert list(due_dates(rule)) == [date(2027, 3, 5), date(2027, 3, 12), date(2027, 3, 19)]
    rule = Recurrence("weekly", 3, NINE, date(2027, 3, 3), count=1)
    assert list(due_dates(rule)) == [date(2027, 3, 3)]


def test_until_is_the_last_date_that_may_be_due_inclusive():
    rule = monthly(15, date(2027, 1, 1), until=date(2027, 3, 15))
    assert list(due_dates(rule)) == [date(2027, 1, 15), date(2027, 2, 15), date(2027, 3, 15)]
    rule = monthly(15, date(2027, 1, 1), until=date(2027, 3, 14))
    assert list(due_dates(rule))[-1] == date(2027, 2, 15)


def test_an_open_schedule_stops_after_max_years():
    rule = monthly(1, date(2027, 1, 1))
    dates = list(due_dates(rule))
    assert dates[-1] <= last_allowed(date(2027, 1, 1))
    assert len(dates) == 60


def test_the_time_is_nairobi_time_all_year_with_no_daylight_saving():
    rule = monthly(1, date(2027, 1, 1), count=12)
    instants = due_between(rule, None, datetime(2028, 1, 1, tzinfo=UTC))
    assert len(instants) == 12
    assert {moment.astimezone(UTC).time() for moment in instants} == {time(6, 0)}
    assert all(moment.tzinfo == NAIROBI for moment in instants)


def test_next_due_is_strictly_after_and_none_at_the_end():
    rule = monthly(31, date(2028, 1, 1), count=3)
    first = next_due(rule)
    assert first == datetime(2028, 1, 31, 9, 0, tzinfo=NAIROBI)
    second = next_due(rule, first)
    assert second == datetime(2028, 2, 29, 9, 0, tzinfo=NAIROBI)
    third = next_due(rule, second)
    assert next_due(rule, third) is None


def test_due_between_is_after_exclusive_upto_inclusive():
    rule = monthly(10, date(2027, 1, 1), count=5)
    jan = datetime(2027, 1, 10, 9, 0, tzinfo=NAIROBI)
    mar = datetime(2027, 3, 10, 9, 0, tzinfo=NAIROBI)
    assert due_between(rule, jan, mar) == [datetime(2027, 2, 10, 9, tzinfo=NAIROBI), mar]


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        (Recurrence("daily", 1, NINE, date(2027, 1, 1)), "frequency"),
        (Recurrence("weekly", 0, NINE, date(2027, 1, 1)), "day"),
        (Recurrence("weekly", 8, NINE, date(2027, 1, 1)), "day"),
        (monthly(0, date(2027, 1, 1)), "day"),
        (monthly(32, date(2027, 1, 1)), "day"),
        (monthly(1, date(2027, 1, 2), until=date(2027, 1, 1)), "until"),
        (monthly(1, date(2027, 1, 1), until=date(2033, 1, 1)), "until"),
        (monthly(1, date(2027, 1, 1), count=0), "count"),
        (monthly(1, date(2027, 1, 1), count=MAX_COUNT + 1), "count"),
        (monthly(1, date(2027, 1, 1), count=2, until=date(2027, 5, 1)), "until_and_count"),
    ],
)
def test_a_wrong_rule_is_refused_with_its_reason(rule, reason):
    with pytest.raises(InvalidSchedule) as refused:
        check(rule)
    assert refused.value.reason == reason


def test_a_good_rule_passes():
    rule = monthly(31, date(2027, 1, 1), count=MAX_COUNT)
    assert check(rule) is rule
