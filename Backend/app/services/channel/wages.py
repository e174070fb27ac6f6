"""Wages as both channels call them: workers, a payslip's draft and approval, a wage
schedule, and a worker's own pay (ChannelServices composes this)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from app.domain.records.wages import EmployedWorker, PayRunLine
from app.errors import InviteLimitReached, ValidationFailed
from app.services.channel.calling import ChannelCore
from app.services.schedules import manage as schedules
from app.services.schedules import wages as wage_schedules
from app.services.wages import employers as wage_employers
from app.services.wages import pay_runs as wage_runs
from app.services.wages import reports as wage_reports


class WageServices(ChannelCore):
    # employ_worker invites through self.invite: SendMoneyServices', beside this in
    # ChannelServices.

    # ---- wages -------------------------------------------------------------------------

    async def wage_workers(self, *, employer_user_id: int) -> list[EmployedWorker]:
        """The employer's active workers, oldest first. Raises NotAnEmployer."""
        return await self.run(wage_employers.list_workers, employer_user_id)

    async def draft_pay(
        self, *, employer_user_id: int, worker_id: int, pay_date: date, key: str
    ) -> wage_runs.RunShown:
        """A draft pay run of one worker (its payslip), once per key. Raises
        NotAnEmployer, IdempotencyConflict, ValidationFailed ('no_workers',
        'no_rule_in_force', 'pay_too_low')."""
        return await self.run(
            wage_runs.create_pay_run,
            employer_user_id=employer_user_id,
            pay_date=pay_date,
            idempotency_key=key,
            worker_ids=[worker_id],
            channel="ussd",
        )

    async def approve_pay(
        self, *, employer_user_id: int, run_id: int, pin: str, attempt_key: str
    ) -> wage_runs.RunShown:
        """Check the PIN, then hold the run's cost (the worker pays its lines). Raises
        WrongPin, PinLocked, PinResetRequired, PayRunNotFound, LimitExceeded,
        InsufficientFunds."""
        return await self.pin_checked(
            employer_user_id,
            pin,
            attempt_key,
            wage_runs.approve_pay_run,
            employer_user_id=employer_user_id,
            run_id=run_id,
        )

    async def employ_worker(
        self,
        *,
        employer_user_id: int,
        phone: str,
        display_name: str,
        gross_pay: int,
        frequency: str,
        deductions: list[str],
    ) -> tuple[EmployedWorker, str | None]:
        """Make the user an employer (once) and add a worker on an E.164 phone who pays
        the statutory items named (any of ITEMS); a phone not on PayTrace is invited.
        The invitation: 'invited', 'already_invited', 'not_sent' or None (registered). Raises
        WorkerExists, ValidationFailed (check_terms' codes, 'send_to_self',
        'too_many_workers')."""
        await self.run(wage_employers.become_employer, employer_user_id)
        added = await self.run(
            wage_employers.add_worker,
            employer_user_id=employer_user_id,
            phone=phone,
            display_name=display_name,
            gross_pay=gross_pay,
            frequency=frequency,
            deductions=deductions,
        )
        if added.registered:
            return added, None
        try:
            sent = await self.invite(sender_user_id=employer_user_id, phone=added.phone)
        except (InviteLimitReached, ValidationFailed):  # the worker is added all the same
            return added, "not_sent"
        return added, "invited" if sent else "already_invited"

    async def schedule_wage(
        self, new: wage_schedules.NewWageSchedule, *, pin: str, attempt_key: str
    ) -> schedules.Created:
        """Check the employer's PIN, then put the worker's pay on a schedule at the
        worker's frequency (wage_schedules.schedule_pay, as REST). Raises WrongPin,
        PinLocked, PinResetRequired, then NotAnEmployer, WorkerNotFound,
        IdempotencyConflict, ValidationFailed ('daily_not_scheduled',
        'too_many_schedules', 'invalid_schedule', 'invalid_start', 'no_rule_in_force',
        'pay_too_low')."""
        return await self.pin_checked(
            new.employer_user_id,
            pin,
            attempt_key,
            wage_schedules.schedule_pay,
            new,
            datetime.now(UTC),
        )

    async def edit_worker(
        self,
        *,
        employer_user_id: int,
        worker_id: int,
        pin: str,
        attempt_key: str,
        display_name: str | None = None,
        gross_pay: int | None = None,
        frequency: str | None = None,
        deductions: list[str] | None = None,
    ) -> EmployedWorker:
        """Check the employer's PIN, then change the terms given (None keeps one): the
        display name, gross pay, frequency, statutory items (employers.edit_worker, as
        REST's PATCH). Raises WrongPin, PinLocked, PinResetRequired, then NotAnEmployer,
        WorkerNotFound, ValidationFailed (check_terms' codes, 'frequency_scheduled')."""
        return await self.pin_checked(
            employer_user_id,
            pin,
            attempt_key,
            wage_employers.edit_worker,
            employer_user_id,
            worker_id,
            display_name=display_name,
            gross_pay=gross_pay,
            frequency=frequency,
            deductions=deductions,
        )

    async def next_pay(self, *, user_id: int) -> list[tuple[str, datetime]]:
        """The user's next pay as a worker: each employer's name and the instant its
        wage schedule pays next, soonest first."""
        return await self.run(wage_schedules.next_pay_dates, user_id)

    async def my_pay(self, *, user_id: int) -> list[tuple[PayRunLine, date]]:
        """The lines paid to the user as a worker, newest first, with their pay dates."""
        return await self.run(wage_reports.payslips_of_worker, user_id)
