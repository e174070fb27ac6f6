"""The scheduled payments part of the fake USSD services: the owner's schedules in
memory, listed newest first, paused, resumed and stopped behind the PIN, with the real
rules (app/domain/schedules.py) and the same refusals as services/schedules/manage.py.
tests/integration/test_ussd_port_contract.py holds it to the facade."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time
from typing import Any

from app.domain import schedules as rules
from app.domain.money import nairobi_day
from app.domain.records.schedules import ACTIVE, FINISHED, PAUSED, STOPPED, Schedule
from app.errors import (
    IdempotencyConflict,
    RecipientNotRegistered,
    ScheduleEnded,
    ScheduleNotFound,
    refused,
)
from app.services.ledger import check_amount
from app.services.schedules.manage import Created, NewSchedule
from app.services.transfers import MAX_TRANSFER

_STATUS = {"pause": PAUSED, "resume": ACTIVE, "stop": STOPPED}


class FakeSchedules:
    # Provided by FakeUssdServices.
    calls: list[str]
    users: dict[str, Any]
    _check_pin: Any
    _user: Any

    def _schedules(self) -> dict[int, Schedule]:
        if not hasattr(self, "_s"):
            self._s: dict[int, Schedule] = {}
        return self._s

    # ---- arranging a test ---------------------------------------------------------

    def add_schedule(
        self,
        owner: int,
        to: int,
        amount: int,
        *,
        frequency: str = "monthly",
        day: int = 31,
        at: time = time(9, 0),
    ) -> Schedule:
        """An active schedule, as manage.create makes it (from today, Nairobi)."""
        payee = self._user(to)
        return self._store_schedule(
            owner, "transfer", payee.phone, payee.full_name, amount,
            frequency=frequency, day=day, at=at, start=nairobi_day(datetime.now(UTC)),
        )  # fmt: skip

    def _store_schedule(
        self,
        owner: int,
        kind: str,
        payee: str,
        payee_name: str,
        amount: int,
        *,
        frequency: str,
        day: int,
        at: time,
        start: date,
    ) -> Schedule:
        now = datetime.now(UTC)
        rule = rules.Recurrence(frequency, day, at, start)
        found = self._schedules()
        schedule = Schedule(
            id=len(found) + 1, owner_user_id=owner, kind=kind,
            payee=payee, payee_name=payee_name, amount=amount,
            note=None, frequency=frequency, day=day, at_time=at, start_date=rule.start,
            until_date=None, max_count=None, status=ACTIVE, consecutive_skips=0,
            next_due_at=rules.next_due(rule, now), reminded_for=None, channel="ussd",
            request_hash="", created_at=now, paused_at=None, stopped_at=None, finished_at=None,
        )  # fmt: skip
        found[schedule.id] = schedule
        return schedule

    # ---- the port -------------------------------------------------------------------

    async def schedule_transfer(self, new: NewSchedule, *, pin: str, attempt_key: str) -> Created:
        """As manage.create behind the PIN: the checks a USSD journey can meet, in the
        same order; one schedule per key."""
        self.calls.append("schedule_transfer")
        self._check_pin(new.owner_user_id, pin, attempt_key)
        check_amount(new.amount, maximum=MAX_TRANSFER)
        rule = rules.Recurrence(new.frequency, new.day, new.at_time, new.start_date)
        try:
            rules.check(rule)
        except rules.InvalidSchedule:
            raise refused("invalid_schedule", "invalid schedule") from None
        now = datetime.now(UTC)
        if new.start_date < nairobi_day(now):
            raise refused("invalid_start", "start: today or later")
        keys = self._schedule_keys()
        earlier = keys.get((new.owner_user_id, new.idempotency_key))
        if earlier is not None:
            found = self._schedules()[earlier[0]]
            if earlier[1] != new:
                raise IdempotencyConflict("this idempotency key was used for another schedule")
            return Created(found, replayed=True)
        payee = self.users.get(new.payee)
        if payee is None:
            raise RecipientNotRegistered("this number is not registered with PayTrace")
        if payee.user_id == new.owner_user_id:
            raise refused("send_to_self", "you cannot send money to yourself")
        made = self.add_schedule(
            new.owner_user_id, payee.user_id, new.amount, frequency=new.frequency,
            day=new.day, at=new.at_time,
        )  # fmt: skip
        keys[(new.owner_user_id, new.idempotency_key)] = (made.id, new)
        return Created(made, replayed=False)

    def _schedule_keys(self) -> dict[tuple[int, str], tuple[int, NewSchedule]]:
        if not hasattr(self, "_s_keys"):
            self._s_keys: dict[tuple[int, str], tuple[int, NewSchedule]] = {}
        return self._s_keys

    async def schedules(
        self, *, owner_user_id: int, limit: int, before_id: int | None = None
    ) -> tuple[list[Schedule], bool]:
        self.calls.append("schedules")
        live = [
            s
            for s in sorted(self._schedules().values(), key=lambda s: -s.id)
            if s.owner_user_id == owner_user_id
            and s.status in (ACTIVE, PAUSED)
            and (before_id is None or s.id < before_id)
        ]
        return live[:limit], len(live) > limit

    async def change_schedule(
        self, *, owner_user_id: int, schedule_id: int, change: str, pin: str, attempt_key: str
    ) -> Schedule:
        self.calls.append(f"change_schedule:{change}")
        self._check_pin(owner_user_id, pin, attempt_key)
        found = self._schedules().get(schedule_id)
        if found is None or found.owner_user_id != owner_user_id:
            raise ScheduleNotFound("no such scheduled payment")
        status = _STATUS[change]
        if found.status == status:
            return found
        if found.status in (STOPPED, FINISHED):
            raise ScheduleEnded(f"this scheduled payment is {found.status}")
        now = datetime.now(UTC)
        next_due = found.next_due_at
        if status == ACTIVE:
            next_due = rules.next_due(found.rule, now)
            status = ACTIVE if next_due is not None else FINISHED
        changed = replace(
            found,
            status=status,
            next_due_at=next_due,
            paused_at=now if status == PAUSED else None,
            stopped_at=now if status == STOPPED else None,
            consecutive_skips=0 if status == ACTIVE else found.consecutive_skips,
        )
        self._schedules()[schedule_id] = changed
        return changed
