"""A hand-written fake of the Harambee port, mixed into FakeUssdServices (fakes.py):
campaigns with their escrow, pledges and the organiser's close and cancel, in memory,
with the same PIN checks, idempotency and refusals as the real services."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from app.domain import harambee as rules
from app.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    NotFound,
    ValidationFailed,
)
from app.services.harambee.common import (
    MAX_ACTIVE_CAMPAIGNS,
    CampaignEnded,
    CampaignNotOpen,
    NotOrganiser,
    PledgeNotOpen,
)
from app.ussd.harambee.ports import (
    CampaignBrief,
    CampaignPage,
    Ended,
    HarambeeReceipt,
    PledgeBrief,
    PledgePage,
)

TODAY = date(2026, 3, 14)


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

    def brief(self) -> CampaignBrief:
        end = date.fromisoformat(self.end_date) if self.end_date else None
        return CampaignBrief(
            self.id,
            self.code,
            self.title,
            self.escrow,
            self.target,
            self.end_date,
            rules.takes_money(self.status, end, TODAY),
        )


@dataclass
class FakePledge:
    id: int
    campaign: FakeCampaign
    user: int
    amount: int
    due_date: str
    paid: int = 0

    def brief(self) -> PledgeBrief:
        status = "fulfilled" if self.paid >= self.amount else "pledged"
        return PledgeBrief(
            self.id, self.campaign.title, self.campaign.code, self.amount, self.paid,
            self.due_date, status,
        )  # fmt: skip


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
    def campaigns(self) -> list[FakeCampaign]:
        return self._harambee_state()["campaigns"]

    @property
    def pledges(self) -> list[FakePledge]:
        return self._harambee_state()["pledges"]

    def _campaign(self, campaign_id: int) -> FakeCampaign:
        found = next((c for c in self.campaigns if c.id == campaign_id), None)
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

    async def open_campaigns(self, *, after_id: int | None, limit: int) -> CampaignPage:
        self.calls.append("open_campaigns")
        found = [c for c in reversed(self.campaigns) if c.brief().takes_money]
        found = [c for c in found if after_id is None or c.id < after_id]
        return CampaignPage([c.brief() for c in found[:limit]], len(found) > limit)

    async def campaign_by_code(self, *, code: str) -> CampaignBrief:
        self.calls.append("campaign_by_code")
        if not rules.is_campaign_code(code.strip()):
            raise _refused("invalid_code")
        found = next((c for c in self.campaigns if c.code == code), None)
        if found is None:
            raise NotFound("no such campaign")
        return found.brief()

    async def my_campaigns(self, *, user_id: int, after_id: int | None, limit: int) -> CampaignPage:
        self.calls.append("my_campaigns")
        found = [
            c
            for c in reversed(self.campaigns)
            if c.organiser == user_id and c.status == "active"
            and (after_id is None or c.id < after_id)
        ]  # fmt: skip
        return CampaignPage([c.brief() for c in found[:limit]], len(found) > limit)

    def _pay(self, user_id: int, campaign: FakeCampaign, amount: int) -> None:
        if not campaign.brief().takes_money:
            raise CampaignNotOpen("not open")
        self._check_limits(user_id, amount)  # a contribution is an outflow like any
        if self.balances[user_id] < amount:
            raise InsufficientFunds(balance=self.balances[user_id], needed=amount)
        self.balances[user_id] -= amount
        self._sent(user_id, amount)
        campaign.escrow += amount
        campaign.paid[user_id] = campaign.paid.get(user_id, 0) + amount

    def _receipt(self, user_id: int, campaign: FakeCampaign, amount: int, left: int | None):
        reference = self._record(user_id, "contribution", -amount, None)
        self.sms.append((self._user(user_id)["phone"], "harambee_contributed"))
        return HarambeeReceipt(
            reference, amount, self.balances[user_id], campaign.escrow, campaign.target, left,
            False,
        )  # fmt: skip

    async def contribute(
        self, *, user_id: int, campaign_id: int, amount: int, anonymous: bool, pin: str, key: str
    ) -> HarambeeReceipt:
        self.calls.append("contribute")
        self._check_pin(user_id, pin, f"contribute:{key}")
        campaign = self._campaign(campaign_id)

        def make() -> HarambeeReceipt:
            self._pay(user_id, campaign, amount)
            return self._receipt(user_id, campaign, amount, None)

        return self._once(f"c:{user_id}:{key}", (campaign_id, amount, anonymous), make)

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
        self.calls.append("pledge")
        self._check_pin(user_id, pin, f"pledge:{key}")
        campaign = self._campaign(campaign_id)

        def make() -> PledgeBrief:
            if not campaign.brief().takes_money:
                raise CampaignNotOpen("not open")
            if campaign.end_date and due_date > campaign.end_date:
                raise _refused("invalid_due_date")
            pledge = FakePledge(len(self.pledges) + 1, campaign, user_id, amount, due_date)
            self.pledges.append(pledge)
            self.sms.append((self._user(user_id)["phone"], "harambee_pledged"))
            return pledge.brief()

        return self._once(f"p:{user_id}:{key}", (campaign_id, amount, due_date), make)

    async def open_pledges(self, *, user_id: int, after_id: int | None, limit: int) -> PledgePage:
        self.calls.append("open_pledges")
        found = [
            p
            for p in reversed(self.pledges)
            if p.user == user_id and p.paid < p.amount and p.campaign.status == "active"
            and (after_id is None or p.id < after_id)
        ]  # fmt: skip
        return PledgePage([p.brief() for p in found[:limit]], len(found) > limit)

    async def pay_pledge(
        self, *, user_id: int, pledge_id: int, amount: int | None, pin: str, key: str
    ) -> HarambeeReceipt:
        self.calls.append("pay_pledge")
        self._check_pin(user_id, pin, f"contribute:{key}")
        pledge = next((p for p in self.pledges if p.id == pledge_id), None)
        if pledge is None or pledge.user != user_id:
            raise NotFound("no such pledge")

        def make() -> HarambeeReceipt:
            left = pledge.amount - pledge.paid
            if left <= 0:
                raise PledgeNotOpen("fulfilled")
            paying = left if amount is None else amount
            if paying > left:
                raise _refused("exceeds_pledge")
            self._pay(user_id, pledge.campaign, paying)
            pledge.paid += paying
            return self._receipt(user_id, pledge.campaign, paying, pledge.amount - pledge.paid)

        return self._once(f"c:{user_id}:{key}", (pledge_id, amount), make)

    async def start_campaign(
        self, *, user_id: int, title: str, target: int, end_date: str | None, pin: str, key: str
    ) -> CampaignBrief:
        self.calls.append("start_campaign")
        self._check_pin(user_id, pin, f"campaign:{key}")

        def make() -> CampaignBrief:
            mine = [c for c in self.campaigns if c.organiser == user_id and c.status == "active"]
            if len(mine) >= MAX_ACTIVE_CAMPAIGNS:
                raise _refused("too_many_campaigns")
            campaign = self.add_campaign(user_id, title, target, end_date)
            self.sms.append((self._user(user_id)["phone"], "harambee_started"))
            return campaign.brief()

        return self._once(f"s:{user_id}:{key}", (title, target, end_date), make)

    def _organisers(self, user_id: int, campaign_id: int) -> FakeCampaign:
        campaign = self._campaign(campaign_id)
        if campaign.organiser != user_id:
            raise NotOrganiser()
        return campaign

    async def close_campaign(self, *, user_id: int, campaign_id: int, pin: str, key: str) -> Ended:
        self.calls.append("close_campaign")
        self._check_pin(user_id, pin, f"close:{key}")
        campaign = self._organisers(user_id, campaign_id)
        if campaign.status != "active":
            raise CampaignEnded(campaign.status)
        amount, campaign.escrow, campaign.status = campaign.escrow, 0, "closed"
        if not amount:
            return Ended(0, None, None, 0)
        self.balances[user_id] += amount
        reference = self._record(user_id, "campaign_payout", amount, None)
        self.sms.append((self._user(user_id)["phone"], "harambee_payout"))
        return Ended(amount, reference, self.balances[user_id], 0)

    async def cancel_campaign(self, *, user_id: int, campaign_id: int, pin: str, key: str) -> Ended:
        self.calls.append("cancel_campaign")
        self._check_pin(user_id, pin, f"cancel:{key}")
        campaign = self._organisers(user_id, campaign_id)
        if campaign.status == "closed":
            raise CampaignEnded("closed")
        campaign.status = "cancelled"
        refunded = 0
        for contributor, paid in campaign.paid.items():
            self.balances[contributor] += paid
            campaign.escrow -= paid
            refunded += paid
            self.sms.append((self._user(contributor)["phone"], "harambee_refund"))
        count, campaign.paid = len(campaign.paid), {}
        return Ended(refunded, None, None, count)
