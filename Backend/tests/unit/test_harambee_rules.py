"""Harambee's rules without I/O: codes, texts, milestones, statuses, and its SMS."""

from __future__ import annotations

import string
from datetime import date

import pytest

from app.domain import harambee as rules
from app.domain.gsm7 import is_gsm7
from app.services.sms_texts import SMS_TEXTS, render_sms

TODAY = date(2026, 3, 2)
HARAMBEE_SMS = [name for name in SMS_TEXTS if name.startswith("harambee_")]


def test_campaign_codes_are_six_digits_with_no_leading_zero():
    codes = {rules.new_campaign_code() for _ in range(2_000)}
    assert all(rules.is_campaign_code(code) for code in codes)
    assert len(codes) > 1_900  # random, not a sequence
    assert not rules.is_campaign_code("012345") and not rules.is_campaign_code("12345a")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  School   fees ", "School fees"),
        ("Ada", "Ada"),
        ("ab", None),
        ("x" * 41, None),
        ("Harambee ☃", None),  # not GSM-7: no handset could show it
    ],
)
def test_titles_are_tidied_or_refused(raw, clean):
    assert rules.clean_title(raw) == clean


def test_messages_may_hold_line_breaks_but_nothing_unprintable():
    assert rules.clean_text(" Pamoja\nTunaweza ", 100) == "Pamoja\nTunaweza"
    assert rules.clean_text("a\x00b", 100) is None
    assert rules.clean_text("\ud800", 100) is None
    assert rules.clean_text("x" * 101, 100) is None


@pytest.mark.parametrize(
    ("before", "after", "target", "reached"),
    [
        (0, 499, 1_000, None),
        (0, 500, 1_000, 50),
        (499, 999, 1_000, 50),
        (500, 999, 1_000, None),  # 50 % was crossed before
        (0, 1_000, 1_000, 100),  # both at once: the organiser hears the higher
        (999, 5_000, 1_000, 100),
        (1_000, 1_200, 1_000, None),
        (0, 1, 1, 100),
        (0, 2, 3, 50),  # 2/3 is past half of an odd target
    ],
)
def test_milestones_are_crossed_once_in_integer_arithmetic(before, after, target, reached):
    assert rules.milestone_reached(before, after, target) == reached


def test_funded_is_an_active_campaign_holding_its_target():
    assert rules.campaign_status("active", 999, 1_000) == "active"
    assert rules.campaign_status("active", 1_000, 1_000) == "funded"
    assert rules.campaign_status("closed", 5_000, 1_000) == "closed"


@pytest.mark.parametrize(
    ("paid", "due", "cancelled", "open_", "status"),
    [
        (0, date(2026, 3, 9), False, True, "pledged"),
        (1, date(2026, 3, 9), False, True, "partially_paid"),
        (100, date(2026, 3, 9), False, True, "fulfilled"),
        (100, date(2026, 3, 1), False, False, "fulfilled"),
        (0, date(2026, 3, 1), False, True, "overdue"),
        (50, date(2026, 3, 1), False, True, "overdue"),
        (50, date(2026, 3, 9), True, True, "cancelled"),
        (50, date(2026, 3, 9), False, False, "cancelled"),  # the campaign ended first
    ],
)
def test_a_pledges_status_follows_from_what_was_paid_and_when(paid, due, cancelled, open_, status):
    got = rules.pledge_status(
        amount=100, paid=paid, due_date=due, cancelled=cancelled, campaign_open=open_, today=TODAY
    )
    assert got == status


def test_ussd_due_choices_are_a_week_two_weeks_and_a_month():
    assert rules.due_date_for("1", TODAY) == date(2026, 3, 9)
    assert rules.due_date_for("3", TODAY) == date(2026, 4, 1)
    assert rules.due_date_for("4", TODAY) is None


@pytest.mark.parametrize("template", HARAMBEE_SMS)
def test_every_harambee_sms_speaks_both_languages_with_the_same_blanks(template):
    texts = SMS_TEXTS[template]
    fields = {
        lang: {name for _, name, _, _ in string.Formatter().parse(text) if name}
        for lang, text in texts.items()
    }
    assert set(texts) == {"en", "sw"} and fields["en"] == fields["sw"]


@pytest.mark.parametrize("template", HARAMBEE_SMS)
@pytest.mark.parametrize("language", ["en", "sw"])
def test_harambee_sms_stay_gsm7_and_within_two_parts_at_their_longest(template, language):
    longest = {
        "title": "T" * rules.TITLE_MAX,
        "code": "482913",
        "reference": "K7QX2M9PLA",
        "amount": "1,000,000",
        "raised": "10,000,000",
        "target": "100,000,000",
        "balance": "1,000,000",
        "left": "100,000,000",
        "when": "22/11/26 14:05",
        "due": "15/12/26",
        "percent": 100,
        "shortcode": "*384*123#",
    }
    text = render_sms(template, language, **longest)
    assert is_gsm7(text) and len(text) <= 306, (len(text), text)
