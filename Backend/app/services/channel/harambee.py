"""Harambee as both channels call it: campaigns, contributions and pledges
(ChannelServices composes this)."""

from __future__ import annotations

from datetime import date

from app.domain.records.harambee import CampaignFilter, CampaignRow, PledgeFilter, PledgeRow
from app.services.channel.calling import ChannelCore
from app.services.harambee import campaigns, closing, pledges
from app.services.harambee.contributions import (
    Contribution,
    ContributionRequest,
    contribute_with_pin,
)


class HarambeeServices(ChannelCore):
    # ---- Harambee ------------------------------------------------------------------------

    async def campaigns(
        self, *, where: CampaignFilter, limit: int
    ) -> tuple[list[CampaignRow], bool]:
        """A page of campaigns, newest first, and whether older ones exist."""
        return await self.run(campaigns.list_campaigns, where=where, limit=limit)

    async def campaign_by_code(self, *, code: str) -> CampaignRow:
        """The campaign a six-digit code names; raises NotFound, ValidationFailed."""
        return await self.run(campaigns.find_by_code, code)

    async def contribute(
        self, request: ContributionRequest, *, pin: str, attempt_key: str | None = None
    ) -> Contribution:
        """Check the PIN, then contribute once per key. Raises WrongPin, PinLocked, then
        CampaignNotOpen, LimitExceeded, InsufficientFunds."""
        return await self.run_pin(contribute_with_pin, request, pin=pin, attempt_key=attempt_key)

    async def pledges(self, *, where: PledgeFilter, limit: int) -> tuple[list[PledgeRow], bool]:
        """A page of the user's pledges, newest first, and whether older ones exist."""
        return await self.run(pledges.list_pledges, where=where, limit=limit)

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
        """Check the PIN, then pay amount (None: all that remains) toward the pledge once
        per key; the payment and the pledge right after. Raises WrongPin, PinLocked, then
        CampaignNotOpen, PledgeNotOpen, ValidationFailed ('exceeds_pledge'),
        LimitExceeded, InsufficientFunds."""

        def work() -> tuple[Contribution, PledgeRow]:
            done = pledges.pay_pledge_with_pin(
                self.runtime.uow(),
                self.hasher,
                self.pin_policy,
                pledge_id=pledge_id,
                user_id=user_id,
                amount=amount,
                key=key,
                pin=pin,
                attempt_key=attempt_key,
                channel=channel,
            )
            pledge = pledges.get_pledge(self.runtime.uow(), pledge_id=pledge_id, user_id=user_id)
            return done, pledge

        return await self.with_pin(work)

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
    ) -> pledges.Pledged:
        """Check the PIN, then pledge once per key. Raises WrongPin, PinLocked, then
        CampaignNotOpen, ValidationFailed ('invalid_due_date')."""
        return await self.pin_checked(
            user_id,
            pin,
            f"pledge:{user_id}:{key}",
            pledges.make_pledge,
            user_id=user_id,
            campaign_id=campaign_id,
            amount=amount,
            due_date=due_date,
            is_anonymous=anonymous,
            key=key,
            shortcode=self.shortcode,
            channel=channel,
        )

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
    ) -> campaigns.Started:
        """Check the PIN, then start the campaign once per key (its code goes by SMS).
        Raises WrongPin, PinLocked, ValidationFailed ('too_many_campaigns', ...)."""
        return await self.pin_checked(
            user_id,
            pin,
            f"campaign:{user_id}:{key}",
            campaigns.start_campaign,
            organiser_user_id=user_id,
            title=title,
            target_amount=target,
            end_date=end_date,
            key=key,
            shortcode=self.shortcode,
            channel=channel,
        )

    async def close_campaign_with_pin(
        self, *, user_id: int, campaign_id: int, pin: str, key: str, channel: str
    ) -> closing.Closed:
        """Check the PIN, then close and pay out. Raises WrongPin, PinLocked,
        NotOrganiser, CampaignEnded."""
        return await self.pin_checked(
            user_id,
            pin,
            f"close:{user_id}:{key}",
            closing.close_campaign,
            campaign_id=campaign_id,
            user_id=user_id,
            channel=channel,
        )

    async def cancel_campaign_with_pin(
        self, *, user_id: int, campaign_id: int, pin: str, key: str, channel: str
    ) -> closing.Cancelled:
        """Check the PIN, then cancel and refund every contributor. Raises WrongPin,
        PinLocked, NotOrganiser, CampaignEnded."""
        return await self.pin_checked(
            user_id,
            pin,
            f"cancel:{user_id}:{key}",
            closing.cancel_campaign,
            campaign_id=campaign_id,
            user_id=user_id,
            channel=channel,
        )
