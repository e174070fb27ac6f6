"""Harambee rules with no I/O: campaign codes, texts, due dates, milestones.

A campaign's status as users see it is derived: 'funded' is an active campaign
whose escrow holds at least its target. A pledge's status is derived from what has
been paid toward it, its due date and whether it or its campaign ended.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, timedelta

from app.domain.gsm7 import is_gsm7

CODE_LENGTH = 6
_CODE = re.compile(r"^[1-9][0-9]{5}$")
TITLE_MIN, TITLE_MAX = 3, 40
DESCRIPTION_MAX = 500
MESSAGE_MAX = 100
# The furthest ahead an end date or a pledge's due date may be.
MAX_DAYS_AHEAD = 366

CAMPAIGN_STATUSES = ("active", "funded", "closed", "cancelled")
PLEDGE_STATUSES = ("pledged", "partially_paid", "fulfilled", "overdue", "cancelled")
# The organiser hears when the escrow first reaches these shares of the target.
MILESTONES = (50, 100)
# What USSD offers for "pay by": a week, two weeks, a month.
DUE_CHOICES = {"1": 7, "2": 14, "3": 30}


def new_campaign_code() -> str:
    """Six random digits, never a leading zero: easy to read out and type."""
    return str(secrets.choice(range(1, 10))) + "".join(
        str(secrets.randbelow(10)) for _ in range(CODE_LENGTH - 1)
    )


def is_campaign_code(raw: str) -> bool:
    return bool(_CODE.match(raw))


def clean_title(raw: str) -> str | None:
    """The title with spaces collapsed, or None when it is not one PayTrace can show
    on any handset (GSM-7, one line, 3 to 40 characters)."""
    title = " ".join(raw.split())
    if not TITLE_MIN <= len(title) <= TITLE_MAX or not is_gsm7(title):
        return None
    return title


def clean_text(raw: str, maximum: int) -> str | None:
    """A description or message trimmed, or None when too long or not printable
    (line breaks are allowed in between)."""
    text = raw.strip()
    if len(text) > maximum or not all(ch.isprintable() or ch in "\n\r\t" for ch in text):
        return None
    return text


def campaign_status(stored: str, balance: int, target: int) -> str:
    """active | funded | closed | cancelled, as shown: 'funded' is derived."""
    if stored == "active" and balance >= target:
        return "funded"
    return stored


def takes_money(stored: str, end_date: date | None, today: date) -> bool:
    """Whether a campaign accepts contributions today (Nairobi day)."""
    return stored == "active" and (end_date is None or today <= end_date)


def milestone_reached(before: int, after: int, target: int) -> int | None:
    """The highest milestone (percent of target) the escrow crossed going from
    before to after, or None. Integer arithmetic only."""
    crossed = [p for p in MILESTONES if before * 100 < p * target <= after * 100]
    return crossed[-1] if crossed else None


def percent_of(amount: int, target: int) -> int:
    """Whole percent of target reached, rounded down."""
    return amount * 100 // target if target > 0 else 0


def pledge_status(
    *,
    amount: int,
    paid: int,
    due_date: date,
    cancelled: bool,
    campaign_open: bool,
    today: date,
) -> str:
    """pledged | partially_paid | fulfilled | overdue | cancelled (the rule the
    database queries apply too: app/db/repositories/pledges.py)."""
    if cancelled:
        return "cancelled"
    if paid >= amount:
        return "fulfilled"
    if not campaign_open:
        return "cancelled"  # the campaign ended before the pledge was paid
    if due_date < today:
        return "overdue"
    return "partially_paid" if paid > 0 else "pledged"


def due_date_for(choice: str, today: date) -> date | None:
    """USSD's 1/2/3 (a week, two weeks, a month) as a date, or None."""
    days = DUE_CHOICES.get(choice)
    return today + timedelta(days=days) if days else None


def within_reach(day: date, today: date) -> bool:
    """A date from today up to about a year ahead."""
    return today <= day <= today + timedelta(days=MAX_DAYS_AHEAD)
