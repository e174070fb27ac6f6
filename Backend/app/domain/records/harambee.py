"""Harambee campaigns, contributions and pledges as stored, and the filters that list them.

Plain records (no behaviour but what derives from their own fields): repositories
build them, services return them, channels render them. They live in the domain so
that no layer reaches into app/db/repositories for a type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from app.domain.harambee import campaign_status


@dataclass(frozen=True, slots=True)
class PledgeRow:
    id: int
    campaign_id: int
    campaign_code: str
    campaign_title: str
    user_id: int
    amount: int  # cents promised
    paid_amount: int  # cents paid toward it so far
    due_date: date
    status: str  # pledged | partially_paid | fulfilled | overdue | cancelled
    is_anonymous: bool
    message: str | None
    created_at: datetime
    cancelled_at: datetime | None

    @property
    def remaining(self) -> int:
        return max(0, self.amount - self.paid_amount)


@dataclass(frozen=True, slots=True)
class PledgeFilter:
    user_id: int | None = None
    campaign_id: int | None = None
    status: str | None = None
    before_id: int | None = None  # paging: pledges older than this one
    payable_only: bool = False  # only pledged, partially_paid and overdue ones


@dataclass(frozen=True, slots=True)
class ContributionRow:
    id: int
    transaction_id: int
    reference: str
    campaign_id: int
    user_id: int
    contributor_name: str
    amount: int  # cents
    pledge_id: int | None
    is_anonymous: bool
    message: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CampaignRow:
    id: int
    code: str
    title: str
    description: str
    target_amount: int  # cents
    current_amount: int  # cents: the escrow's balance, plus the payout once closed
    stored_status: str  # active | closed | cancelled
    balance: int  # cents the escrow holds now
    organiser_id: int
    organiser_name: str
    end_date: date | None
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    account_id: int
    payout_id: int | None

    @property
    def status(self) -> str:
        """active | funded | closed | cancelled."""
        return campaign_status(self.stored_status, self.balance, self.target_amount)


@dataclass(frozen=True, slots=True)
class CampaignFilter:
    status: str | None = None  # as shown: active | funded | closed | cancelled
    organiser_id: int | None = None
    search: str | None = None  # part of the title, any case
    code: str | None = None
    before_id: int | None = None  # paging: campaigns older than this one
    stored_status: str | None = None  # active | closed | cancelled, as stored
    ends_from: date | None = None  # only those with no end date or ending on it or later
