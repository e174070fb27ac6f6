"""The real HarambeeServices: the harambee services, run in worker threads.

A mixin of RuntimeUssdServices (app/ussd/adapter.py), whose runtime, PIN hasher and
policy, shortcode and PIN-check turns it uses. Every call that checks a PIN takes
its turn with every other PIN check of the process (USSD and REST alike), and runs
the check and what it guards in one worker-thread call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from app.domain import harambee as rules
from app.domain.money import nairobi_day
from app.domain.records.harambee import CampaignFilter, CampaignRow, PledgeFilter, PledgeRow
from app.runtime import Runtime
from app.services import pins
from app.services.harambee import campaigns, closing, pledges
from app.services.harambee.contributions import (
    Contribution,
    ContributionRequest,
    contribute_with_pin,
)
from app.ussd.harambee.ports import (
    CampaignBrief,
    CampaignPage,
    Ended,
    HarambeeReceipt,
    PledgeBrief,
    PledgePage,
)

T = TypeVar("T")


def _today() -> date:
    return nairobi_day(datetime.now(UTC))


def brief(row: CampaignRow, today: date) -> CampaignBrief:
    return CampaignBrief(
        id=row.id,
        code=row.code,
        title=row.title,
        raised=row.current_amount,
        target=row.target_amount,
        end_date=row.end_date.isoformat() if row.end_date else None,
        takes_money=rules.takes_money(row.stored_status, row.end_date, today),
    )


def pledge_brief(row: PledgeRow) -> PledgeBrief:
    return PledgeBrief(
        id=row.id,
        campaign_title=row.campaign_title,
        campaign_code=row.campaign_code,
        amount=row.amount,
        paid=row.paid_amount,
        due_date=row.due_date.isoformat(),
        status=row.status,
    )


class HarambeeAdapter:
    _runtime: Runtime
    _hasher: pins.PinHasher
    _policy: pins.PinPolicy
    _shortcode: str
    _with_pin: Callable[[Callable[[], T]], Awaitable[T]]
    _verify: Callable[[int, str, str], None]

    async def open_campaigns(self, *, after_id: int | None, limit: int) -> CampaignPage:
        today = _today()
        where = CampaignFilter(before_id=after_id, stored_status="active", ends_from=today)
        rows, more = await run_in_threadpool(
            lambda: campaigns.list_campaigns(self._runtime.uow(), where=where, limit=limit)
        )
        return CampaignPage([brief(row, today) for row in rows], more)

    async def campaign_by_code(self, *, code: str) -> CampaignBrief:
        row = await run_in_threadpool(campaigns.find_by_code, self._runtime.uow(), code)
        return brief(row, _today())

    async def my_campaigns(self, *, user_id: int, after_id: int | None, limit: int) -> CampaignPage:
        where = CampaignFilter(organiser_id=user_id, before_id=after_id, stored_status="active")
        rows, more = await run_in_threadpool(
            lambda: campaigns.list_campaigns(self._runtime.uow(), where=where, limit=limit)
        )
        today = _today()
        return CampaignPage([brief(row, today) for row in rows], more)

    async def contribute(
        self, *, user_id: int, campaign_id: int, amount: int, anonymous: bool, pin: str, key: str
    ) -> HarambeeReceipt:
        request = ContributionRequest(
            user_id, campaign_id, amount, key, channel="ussd", is_anonymous=anonymous
        )
        done = await self._with_pin(
            lambda: contribute_with_pin(
                self._runtime.uow(), self._hasher, self._policy, request, pin=pin
            )
        )
        return await self._receipt(done)

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
        def run() -> PledgeRow:
            self._verify(user_id, pin, f"pledge:{user_id}:{key}")
            return pledges.make_pledge(
                self._runtime.uow(),
                user_id=user_id,
                campaign_id=campaign_id,
                amount=amount,
                due_date=date.fromisoformat(due_date),
                is_anonymous=anonymous,
                key=key,
                shortcode=self._shortcode,
                channel="ussd",
            ).pledge

        return pledge_brief(await self._with_pin(run))

    async def open_pledges(self, *, user_id: int, after_id: int | None, limit: int) -> PledgePage:
        where = PledgeFilter(user_id=user_id, before_id=after_id, payable_only=True)
        rows, more = await run_in_threadpool(
            lambda: pledges.list_pledges(self._runtime.uow(), where=where, limit=limit)
        )
        return PledgePage([pledge_brief(row) for row in rows], more)

    async def pay_pledge(
        self, *, user_id: int, pledge_id: int, amount: int | None, pin: str, key: str
    ) -> HarambeeReceipt:
        done = await self._with_pin(
            lambda: pledges.pay_pledge_with_pin(
                self._runtime.uow(),
                self._hasher,
                self._policy,
                pledge_id=pledge_id,
                user_id=user_id,
                amount=amount,
                key=key,
                pin=pin,
                channel="ussd",
            )
        )
        return await self._receipt(done)

    async def _receipt(self, done: Contribution) -> HarambeeReceipt:
        def read() -> tuple[CampaignRow, PledgeRow | None]:
            campaign = campaigns.get_campaign(self._runtime.uow(), done.campaign_id)
            pledge = None
            if done.pledge_id is not None:
                pledge = pledges.get_pledge(
                    self._runtime.uow(), pledge_id=done.pledge_id, user_id=done.user_id
                )
            return campaign, pledge

        campaign, pledge = await run_in_threadpool(read)
        return HarambeeReceipt(
            reference=done.reference,
            amount=done.amount,
            balance=done.balance,
            raised=done.raised,
            target=campaign.target_amount,
            pledge_left=pledge.remaining if pledge else None,
            replayed=done.replayed,
        )

    async def start_campaign(
        self, *, user_id: int, title: str, target: int, end_date: str | None, pin: str, key: str
    ) -> CampaignBrief:
        def run() -> CampaignRow:
            self._verify(user_id, pin, f"campaign:{user_id}:{key}")
            return campaigns.start_campaign(
                self._runtime.uow(),
                organiser_user_id=user_id,
                title=title,
                target_amount=target,
                end_date=date.fromisoformat(end_date) if end_date else None,
                key=key,
                shortcode=self._shortcode,
                channel="ussd",
            ).campaign

        return brief(await self._with_pin(run), _today())

    async def close_campaign(self, *, user_id: int, campaign_id: int, pin: str, key: str) -> Ended:
        def run() -> Ended:
            self._verify(user_id, pin, f"close:{user_id}:{key}")
            done = closing.close_campaign(
                self._runtime.uow(), campaign_id=campaign_id, user_id=user_id, channel="ussd"
            )
            payout = done.payout
            if payout is None:
                return Ended(0, None, None, 0)
            return Ended(payout.amount, payout.reference, payout.balances.get(user_id), 0)

        return await self._with_pin(run)

    async def cancel_campaign(self, *, user_id: int, campaign_id: int, pin: str, key: str) -> Ended:
        def run() -> Ended:
            self._verify(user_id, pin, f"cancel:{user_id}:{key}")
            done = closing.cancel_campaign(
                self._runtime.uow(), campaign_id=campaign_id, user_id=user_id, channel="ussd"
            )
            refunded = sum(refund.amount for refund in done.refunds)
            return Ended(refunded, None, None, len(done.refunds))

        return await self._with_pin(run)
