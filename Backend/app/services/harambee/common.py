"""What the harambee services share: their errors, input checks and limits."""

from __future__ import annotations

from datetime import date

from app.domain import harambee as rules
from app.errors import Conflict, Forbidden, NotFound, refused

# A campaign's target and a pledge: at most KES 100,000,000.
MAX_TARGET = 10_000_000_000
MAX_PLEDGE = MAX_TARGET
# Campaigns one organiser may run at once: a cap on spam, not on fundraising.
MAX_ACTIVE_CAMPAIGNS = 10
PAGE_MAX = 100


class CampaignNotOpen(Conflict):
    """The campaign is closed, cancelled or past its end date: it takes no money."""

    code = "campaign_not_open"


class CampaignEnded(Conflict):
    """The campaign was closed or cancelled: it can no longer be changed that way."""

    code = "campaign_ended"


class NotOrganiser(Forbidden):
    code = "not_organiser"

    def __init__(self) -> None:
        super().__init__("only the campaign's organiser may do this")


class PledgeNotOpen(Conflict):
    """The pledge is fulfilled or cancelled: nothing more can be paid toward it."""

    code = "pledge_not_open"


def campaign_not_found() -> NotFound:
    return NotFound("no such campaign")


def check_title(raw: object) -> str:
    """Raises ValidationFailed ('invalid_title')."""
    title = rules.clean_title(raw) if isinstance(raw, str) else None
    if title is None:
        raise refused(
            "invalid_title",
            f"a title of {rules.TITLE_MIN} to {rules.TITLE_MAX} letters, digits or punctuation"
            " any phone can show",
        )
    return title


def check_description(raw: object) -> str:
    """Raises ValidationFailed ('invalid_description')."""
    text = rules.clean_text(raw, rules.DESCRIPTION_MAX) if isinstance(raw, str) else None
    if text is None:
        raise refused(
            "invalid_description", f"a description of at most {rules.DESCRIPTION_MAX} characters"
        )
    return text


def check_message(raw: object) -> str | None:
    """An empty message is none; raises ValidationFailed ('invalid_message')."""
    if raw is None:
        return None
    text = rules.clean_text(raw, rules.MESSAGE_MAX) if isinstance(raw, str) else None
    if text is None:
        raise refused("invalid_message", f"a message of at most {rules.MESSAGE_MAX} characters")
    return text or None


def check_cents(raw: object, *, code: str, maximum: int) -> int:
    """Whole cents from 1 to maximum; raises ValidationFailed (code)."""
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw <= maximum:
        raise refused(code, f"whole cents from 1 to {maximum}")
    return raw


def check_end_date(end_date: date | None, today: date) -> date | None:
    """Raises ValidationFailed ('invalid_end_date') unless today..a year ahead."""
    if end_date is not None and not rules.within_reach(end_date, today):
        raise refused("invalid_end_date", "the end date must be from today to a year ahead")
    return end_date


def check_limit(limit: int) -> int:
    if not 1 <= limit <= PAGE_MAX:
        raise refused("invalid_limit", f"a page holds 1 to {PAGE_MAX} items")
    return limit
