from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.money import (
    REFERENCE_ALPHABET,
    InvalidAmount,
    format_kes,
    nairobi_day,
    new_reference,
    parse_shillings,
)


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("1", 100), ("1500", 150_000), ("1,500", 150_000), (" 20 ", 2_000), ("10.00", 1_000)],
)
def test_whole_shillings_typed_on_a_keypad_become_cents(typed, cents):
    assert parse_shillings(typed) == cents


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("0", "not_positive"),
        ("-5", "not_positive"),
        ("10.50", "not_whole"),
        ("abc", "not_a_number"),
        ("", "not_a_number"),
        ("1,50", "not_a_number"),
        ("١٠", "not_a_number"),  # Arabic-Indic digits: isdigit() but not a keypad's
        ("10000001", "too_large"),
    ],
)
def test_amounts_a_user_cannot_mean_are_refused_with_a_reason(typed, reason):
    with pytest.raises(InvalidAmount) as refused:
        parse_shillings(typed)
    assert refused.value.reason == reason


@given(st.integers(min_value=1, max_value=10_000_000))
def test_any_whole_amount_round_trips_through_its_display(shillings):
    cents = parse_shillings(format_kes(shillings * 100))
    assert cents == shillings * 100


@pytest.mark.parametrize(
    ("cents", "shown"), [(0, "0"), (5, "0.05"), (100_050, "1,000.50"), (-2_500, "-25")]
)
def test_amounts_are_shown_as_kenyans_read_them(cents, shown):
    assert format_kes(cents) == shown


def test_references_are_ten_unambiguous_characters():
    references = {new_reference() for _ in range(1000)}
    assert len(references) == 1000
    assert all(len(r) == 10 and set(r) <= set(REFERENCE_ALPHABET) for r in references)
    assert not set("01IOL") & set(REFERENCE_ALPHABET)
    # Every character is drawn, about as often as any other (10,000 draws, ~323 each).
    counts = Counter("".join(references))
    assert set(counts) == set(REFERENCE_ALPHABET)
    assert max(counts.values()) < 2 * min(counts.values())


def test_the_day_of_a_limit_is_the_day_in_nairobi():
    # 22:30 UTC is already 01:30 the next day in Nairobi.
    assert nairobi_day(datetime(2026, 11, 22, 22, 30, tzinfo=UTC)).day == 23
    assert nairobi_day(datetime(2026, 11, 22, 20, 59, tzinfo=UTC)).day == 22
