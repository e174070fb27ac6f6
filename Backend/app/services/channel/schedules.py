"""Scheduled payments as both channels call them: the list, pause/resume/stop, a new
schedule and a payment's monthly repeat (ChannelServices composes this)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.records.schedules import Schedule
from app.services.channel.calling import ChannelCore
from app.services.schedules import manage as schedules
from app.services.schedules import repeat as schedule_repeat


class ScheduleServices(ChannelCore):
    # ---- scheduled payments ------------------------------------------------------------

    async def schedules(
        self, *, owner_user_id: int, limit: int, before_id: int | None = None
    ) -> tuple[list[Schedule], bool]:
        """The owner's active and paused schedules, newest first, and whether older ones
        exist."""
        found = await self.run(
            schedules.list_for,
            owner_user_id,
            live_only=True,
            limit=limit + 1,
            before_id=before_id,
        )
        return found[:limit], len(found) > limit

    async def change_schedule(
        self, *, owner_user_id: int, schedule_id: int, change: str, pin: str, attempt_key: str
    ) -> Schedule:
        """Check the PIN, then pause, resume or stop (change) the owner's schedule.
        Raises WrongPin, PinLocked, PinResetRequired, ScheduleNotFound, ScheduleEnded."""
        return await self.pin_checked(
            owner_user_id,
            pin,
            attempt_key,
            schedules.CHANGES[change],
            owner_user_id,
            schedule_id,
            datetime.now(UTC),
        )

    async def schedule_transfer(
        self, new: schedules.NewSchedule, *, pin: str, attempt_key: str
    ) -> schedules.Created:
        """Check the owner's PIN, then schedule a repeating Send money. Raises WrongPin,
        PinLocked, PinResetRequired, then what schedules.create raises."""
        return await self.pin_checked(
            new.owner_user_id,
            pin,
            attempt_key,
            schedules.create,
            new,
            datetime.now(UTC),
            bill_rails=self.settings.bill_rails,
        )

    async def repeat_payment(
        self, new: schedules.NewSchedule, *, paid_key: str
    ) -> schedules.Created:
        """Schedule the monthly repeat of a payment the owner has just made with the PIN
        under paid_key (no PIN asked again: the payment's was). Raises ValidationFailed
        ('not_paid'), then what schedules.create raises."""
        return await self.run(
            schedule_repeat.repeat_payment,
            new,
            paid_key,
            datetime.now(UTC),
            bill_rails=self.settings.bill_rails,
        )
