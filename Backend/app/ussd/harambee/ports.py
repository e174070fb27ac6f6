"""What the USSD Harambee menu needs from the rest of PayTrace (part of UssdServices).

Every value is plain and small: the session keeps what the next screen shows as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CampaignBrief:
    id: int
    code: str
    title: str
    raised: int  # cents
    target: int  # cents
    end_date: str | None  # ISO date, or None: no end date
    takes_money: bool  # active and not past its end date


@dataclass(frozen=True)
class CampaignPage:
    items: list[CampaignBrief]
    more: bool  # older ones exist: ask again with after_id = the last one's id


@dataclass(frozen=True)
class PledgeBrief:
    id: int
    campaign_title: str
    campaign_code: str
    amount: int  # cents promised
    paid: int  # cents paid so far
    due_date: str  # ISO date
    status: str


@dataclass(frozen=True)
class PledgePage:
    items: list[PledgeBrief]
    more: bool


@dataclass(frozen=True)
class HarambeeReceipt:
    reference: str
    amount: int  # cents
    balance: int  # the contributor's balance right after, cents
    raised: int  # the campaign's escrow right after, cents
    target: int  # cents
    pledge_left: int | None  # cents still to pay on the pledge it paid toward, if any
    replayed: bool


@dataclass(frozen=True)
class Ended:
    """A campaign closed (paid out) or cancelled (refunded)."""

    amount: int  # cents paid out to the organiser, or refunded by this request
    reference: str | None  # the payout's reference (closing only)
    balance: int | None  # the organiser's balance after a payout
    refunded: int  # contributors refunded by this request (cancelling only)


class HarambeeServices(Protocol):
    async def open_campaigns(self, *, after_id: int | None, limit: int) -> CampaignPage:
        """Campaigns taking money today, newest first."""

    async def campaign_by_code(self, *, code: str) -> CampaignBrief:
        """The campaign a six-digit code names; raises NotFound, ValidationFailed."""

    async def my_campaigns(self, *, user_id: int, after_id: int | None, limit: int) -> CampaignPage:
        """The user's active campaigns (to close or cancel), newest first."""

    async def contribute(
        self, *, user_id: int, campaign_id: int, amount: int, anonymous: bool, pin: str, key: str
    ) -> HarambeeReceipt:
        """Check the PIN, then contribute once per key. Raises WrongPin, PinLocked, then
        CampaignNotOpen, LimitExceeded, InsufficientFunds."""

    async def pledge(
        self,
        *,
        user_id: int,
        campaign_id: int,
        amount: int,
        due_date: str,
        anonymous: bool,
        pin: str,
        key: str,
    ) -> PledgeBrief:
        """Check the PIN, then pledge once per key. Raises WrongPin, PinLocked, then
        CampaignNotOpen, ValidationFailed ('invalid_due_date')."""

    async def open_pledges(self, *, user_id: int, after_id: int | None, limit: int) -> PledgePage:
        """The user's pledges still to pay (pledged, partially paid, overdue)."""

    async def pay_pledge(
        self, *, user_id: int, pledge_id: int, amount: int | None, pin: str, key: str
    ) -> HarambeeReceipt:
        """Check the PIN, then pay amount (None: all that remains) toward the pledge once
        per key. Raises WrongPin, PinLocked, then CampaignNotOpen, PledgeNotOpen,
        ValidationFailed ('exceeds_pledge'), LimitExceeded, InsufficientFunds."""

    async def start_campaign(
        self, *, user_id: int, title: str, target: int, end_date: str | None, pin: str, key: str
    ) -> CampaignBrief:
        """Check the PIN, then start the campaign once per key (its code goes by SMS).
        Raises WrongPin, PinLocked, ValidationFailed ('too_many_campaigns', ...)."""

    async def close_campaign(self, *, user_id: int, campaign_id: int, pin: str, key: str) -> Ended:
        """Check the PIN, then close and pay out. Raises WrongPin, PinLocked, NotOrganiser,
        CampaignEnded."""

    async def cancel_campaign(self, *, user_id: int, campaign_id: int, pin: str, key: str) -> Ended:
        """Check the PIN, then cancel and refund every contributor. Raises WrongPin,
        PinLocked, NotOrganiser, CampaignEnded."""
