"""The Harambee part of the fake USSD port, mixed into FakeUssdServices (fakes.py):
campaigns with their escrow, pledges and the organiser's close and cancel, in memory,
with the same PIN checks, idempotency and refusals as the real services, answering
with the services' own rows and results."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.domain import harambee as rules
from app.domain.records.harambee import CampaignFilter, CampaignRow, PledgeFilter, PledgeRow
from app.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    NotFound,
    ValidationFailed,
)
from app.services.harambee.campaigns import Started
from app.services.harambee.closing import Cancelled, Closed
from app.services.harambee.common import (
    MAX_ACTIVE_CAMPAIGNS,
    CampaignEnded,
    CampaignNotOpen,
    NotOrganiser,
    PledgeNotOpen,
)
from app.services.harambee.contributions import Contribution, ContributionRequest
from app.services.harambee.pledges import Pledged
from app.services.ledger import Movement

# The clock the rows carry; whether a campaign takes money is the menu's to say (today).
NOW = datetime(2026, 3, 14, 6, 30, tzinfo=UTC)


def days_from_today(days: int) -> str:
    """An end or due date relative to the real today (the menu reads the real date)."""
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def _refused(code: str) -> ValidationFailed:
    error = ValidationFailed(code)
    error.code = code
    return error


@dataclass
class FakeCampaign:
    id: int
    code: str
    title: str
    target: int
    organiser: int
    end_date: str | None
    status: str = "active"
    escrow: int = 0
    paid: dict[int, int] = field(default_factory=dict)  # user id -> cents
    paid_out: int = 0

    def row(self) -> CampaignRow:
        return CampaignRow(
            id=self.id,
            code=self.code,
            title=self.title,
            description="",
            target_amount=self.target,
            current_amount=self.escrow + self.paid_out,
            stored_status=self.status,
            balance=self.escrow,
            organiser_id=self.organiser,
            organiser_name="",
            end_date=date.fromisoformat(self.end_date) if self.end_date else None,
            created_at=NOW,
            updated_at=NOW,
            ended_at=None,
            account_id=1000 + self.id,
            payout_id=None,
        )

    def takes_money(self, today: date) -> bool:
        end = date.fromisoformat(self.end_date) if self.end_date else None
        return rules.takes_money(self.status, end, today)


@dataclass
class FakePledge:
    id: int
    campaign: FakeCampaign
    user: int
    amount: int
    due_date: str
    paid: int = 0

    def row(self) -> PledgeRow:
        status = "fulfilled" if self.paid >= self.amount else "pledged"
        return PledgeRow(
            id=self.id,
            campaign_id=self.campaign.id,
            campaign_code=self.campaign.code,
            campaign_title=self.campaign.title,
            user_id=self.user,
            amount=self.amount,
            paid_amount=self.paid,
            due_date=date.fromisoformat(self.due_date),
            status=status,
            is_anonymous=False,
            message=None,
            created_at=NOW,
            cancelled_at=None,
        )


class FakeHarambee:
    # Provided by FakeUssdServices.
    balances: dict[int, int]
    sms: list[tuple[str, str]]
    calls: list[str]
    _check_limits: Any
    _sent: Any
    _check_pin: Any
    _record: Any
    _user: Any

    def _harambee_state(self) -> dict[str, Any]:
        if not hasattr(self, "_h"):
            self._h: dict[str, Any] = {"campaigns": [], "pledges": [], "results": {}}
        return self._h

    # ---- arranging a test ---------------------------------------------------------

    def add_campaign(
        self, organiser: int, title: str, target: int, end_date: str | None = None
    ) -> FakeCampaign:
        state = self._harambee_state()
        n = len(state["campaigns"]) + 1
        campaign = FakeCampaign(n, f"{482900 + n}", title, target, organiser, end_date)
        state["campaigns"].append(campaign)
        return campaign

    @property
    def held_campaigns(self) -> list[FakeCampaign]:
        return self._harambee_state()["campaigns"]

    @property
    def held_pledges(self) -> list[FakePledge]:
        return self._harambee_state()["pledges"]

    def _campaign(self, campaign_id: int) -> FakeCampaign:
        found = next((c for c in self.held_campaigns if c.id == campaign_id), None)
        if found is None:
            raise NotFound("no such campaign")
        return found

    def _once(self, key: str, request: tuple, make):
        results = self._harambee_state()["results"]
        if key in results:
            earlier_request, earlier = results[key]
            if earlier_request != request:
                raise IdempotencyConflict("key reused")
            return replace(earlier, replayed=True) if hasattr(earlier, "replayed") else earlier
        done = make()
        results[key] = (request, done)
        return done

    # ---- the port --------------------------------------------------------------------

    async def campaigns(
        self, *, where: CampaignFilter, limit: int
    ) -> tuple[list[CampaignRow], bool]:
        """The filters the menu uses: stored status, organiser, ends from, before id."""
        self.calls.append("campaigns")
        found = [
            c
            for c in reversed(self.held_campaigns)
            if (where.stored_status is None or c.status == where.stored_status)
            and (where.organiser_id is None or c.organiser == where.organiser_id)
            and (where.ends_from is None or not c.end_date
                 or c.end_date >= where.ends_from.isoformat())
            and (where.before_id is None or c.id < where.before_id)
        ]  # fmt: skip
        return [c.row() for c in found[:limit]], len(found) > limit

    async def campaign_by_code(self, *, code: str) -> CampaignRow:
        self.calls.append("campaign_by_code")
        if not rules.is_campaign_code(code.strip()):
            raise _refused("invalid_code")
        found = next((c for c in self.held_campaigns if c.code == code), None)
        if found is None:
            raise NotFound("no such campaign")
        return found.row()

    def _pay(self, user_id: int, campaign: FakeCampaign, amount: int) -> None:
        if not campaign.takes_money(datetime.now(UTC).date()):
            raise CampaignNotOpen("not open")
        self._check_limits(user_id, amount)  # a contribution is an outflow like any
        if self.balances[user_id] < amount:
            raise InsufficientFunds(balance=self.balances[user_id], needed=amount)
        self.balances[user_id] -= amount
        self._sent(user_id, amount)
        campaign.escrow += amount
        campaign.paid[user_id] = campaign.paid.get(user_id, 0) + amount

    def _receipt(
        self, user_id: int, campaign: FakeCampaign, amount: int, pledge_id: int | None = None
    ) -> Contribution:
        reference = self._record(user_id, "contribution", -amount, None)
        self.sms.append((self._user(user_id).phone, "harambee_contributed"))
        return Contribution(
            id=len(self._harambee_state()["results"]) + 1,
            transaction_id=0,
            reference=reference,
            campaign_id=campaign.id,
            user_id=user_id,
            contributor_name=self._user(user_id).full_name,
            amount=amount,
            pledge_id=pledge_id,
            is_anonymous=False,
            message=None,
            created_at=NOW,
            balance=self.balances[user_id],
            raised=campaign.escrow,
            replayed=False,
        )

    async def contribute(
        self, request: ContributionRequest, *, pin: str, attempt_key: str | None = None
    ) -> Contribution:
        self.calls.append("contribute")
        user_id, key = request.user_id, request.idempotency_key
        self._check_pin(user_id, pin, attempt_key or f"contribute:{key}")
        campaign = self._campaign(request.campaign_id)
        amount = request.amount
        assert amount is not None

        def make() -> Contribution:
            self._pay(user_id, campaign, amount)
            return self._receipt(user_id, campaign, amount)

        asked = (request.campaign_id, amount, request.is_anonymous)
        return self._once(f"c:{user_id}:{key}", asked, make)

    async def pledge_with_pin(
        self,
        *,
        user_id: int,
        campaign_id: int,
        amount: int,
        due_date: date,
        anonymous: bool,
        pin: str,
        key: str,
        channel: str,
    ) -> Pledged:
        self.calls.append("pledge")
        self._check_pin(user_id, pin, f"pledge:{key}")
        campaign = self._campaign(campaign_id)
        due = due_date.isoformat()

        def make() -> Pledged:
            if not campaign.takes_money(datetime.now(UTC).date()):
                raise CampaignNotOpen("not open")
            if campaign.end_date and due > campaign.end_date:
                raise _refused("invalid_due_date")
            pledge = FakePledge(len(self.held_pledges) + 1, campaign, user_id, amount, due)
            self.held_pledges.append(pledge)
            self.sms.append((self._user(user_id).phone, "harambee_pledged"))
            return Pledged(pledge.row(), replayed=False)

        return self._once(f"p:{user_id}:{key}", (campaign_id, amount, due), make)

    async def pledges(self, *, where: PledgeFilter, limit: int) -> tuple[list[PledgeRow], bool]:
        """The filters the menu uses: the user's, payable only, before id."""
        self.calls.append("pledges")
        found = [
            p
            for p in reversed(self.held_pledges)
            if (where.user_id is None or p.user == where.user_id)
            and (not where.payable_only
                 or (p.paid < p.amount and p.campaign.status == "active"))
            and (where.before_id is None or p.id < where.before_id)
        ]  # fmt: skip
        return [p.row() for p in found[:limit]], len(found) > limit

    async def pay_pledge(
        self,
        *,
        user_id: int,
        pledge_id: int,
        amount: int | None,
        key: str,
        channel: str,
        pin: str,
        attempt_key: str | None = None,
    ) -> tuple[Contribution, PledgeRow]:
        self.calls.append("pay_pledge")
        self._check_pin(user_id, pin, attempt_key or f"contribute:{key}")
        pledge = next((p for p in self.held_pledges if p.id == pledge_id), None)
        if pledge is None or pledge.user != user_id:
            raise NotFound("no such pledge")

        def make() -> Contribution:
            left = pledge.amount - pledge.paid
            if left <= 0:
                raise PledgeNotOpen("fulfilled")
            paying = left if amount is None else amount
            if paying > left:
                raise _refused("exceeds_pledge")
            self._pay(user_id, pledge.campaign, paying)
            pledge.paid += paying
            return self._receipt(user_id, pledge.campaign, paying, pledge.id)

        paid = self._once(f"c:{user_id}:{key}", (pledge_id, amount), make)
        return paid, pledge.row()

    async def start_campaign_with_pin(
        self,
        *,
        user_id: int,
        title: str,
        target: int,
        end_date: date | None,
        pin: str,
        key: str,
        channel: str,
    ) -> Started:
        self.calls.append("start_campaign")
        self._check_pin(user_id, pin, f"campaign:{key}")
        end = end_date.isoformat() if end_date else None

        def make() -> Started:
            held = self.held_campaigns
            mine = [c for c in held if c.organiser == user_id and c.status == "active"]
            if len(mine) >= MAX_ACTIVE_CAMPAIGNS:
                raise _refused("too_many_campaigns")
            campaign = self.add_campaign(user_id, title, target, end)
            self.sms.append((self._user(user_id).phone, "harambee_started"))
            return Started(campaign.row(), replayed=False)

        return self._once(f"s:{user_id}:{key}", (title, target, end), make)

    def _organisers(self, user_id: int, campaign_id: int) -> FakeCampaign:
        campaign = self._campaign(campaign_id)
        if campaign.organiser != user_id:
            raise NotOrganiser()
        return campaign

    def _movement(self, kind: str, reference: str, amount: int, balances: dict[int, int]):
        return Movement(0, reference, kind, amount, 0, NOW, balances)

    async def close_campaign_with_pin(
        self, *, user_id: int, campaign_id: int, pin: str, key: str, channel: str
    ) -> Closed:
        self.calls.append("close_campaign")
        self._check_pin(user_id, pin, f"close:{key}")
        campaign = self._organisers(user_id, campaign_id)
        if campaign.status != "active":
            raise CampaignEnded(campaign.status)
        amount, campaign.escrow, campaign.status = campaign.escrow, 0, "closed"
        campaign.paid_out = amount
        if not amount:
            return Closed(campaign.row(), None)
        self.balances[user_id] += amount
        reference = self._record(user_id, "campaign_payout", amount, None)
        self.sms.append((self._user(user_id).phone, "harambee_payout"))
        balances = {user_id: self.balances[user_id]}
        return Closed(
            campaign.row(), self._movement("campaign_payout", reference, amount, balances)
        )

    async def cancel_campaign_with_pin(
        self, *, user_id: int, campaign_id: int, pin: str, key: str, channel: str
    ) -> Cancelled:
        self.calls.append("cancel_campaign")
        self._check_pin(user_id, pin, f"cancel:{key}")
        campaign = self._organisers(user_id, campaign_id)
        if campaign.status == "closed":
            raise CampaignEnded("closed")
        campaign.status = "cancelled"
        refunds = []
        for contributor, paid in campaign.paid.items():
            self.balances[contributor] += paid
            campaign.escrow -= paid
            reference = self._record(contributor, "campaign_refund", paid, None)
            balances = {contributor: self.balances[contributor]}
            refunds.append(self._movement("campaign_refund", reference, paid, balances))
            self.sms.append((self._user(contributor).phone, "harambee_refund"))
        campaign.paid = {}
        return Cancelled(campaign.row(), refunds)
