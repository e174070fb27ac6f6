"""The wages part of the fake USSD services: employers' workers, one-worker pay runs
drafted with the real payslip arithmetic (app/domain/wages.py, the seeded rules) and
approved behind the PIN with the real limits rule, lines paid when the test says the
worker ran (pay_queued). tests/integration/test_wages_port_contract.py holds it to
the facade."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from app.domain import schedules as rules
from app.domain.money import nairobi_day
from app.domain.records.schedules import ACTIVE, PAUSED, Schedule
from app.domain.records.wages import EmployedWorker, PayRun, PayRunLine
from app.domain.wages import ITEMS, NoRuleInForce, PayTooLow, compute_payslip, rules_in_force
from app.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    InviteLimitReached,
    NotAnEmployer,
    PayRunNotFound,
    ValidationFailed,
    WorkerExists,
    WorkerNotFound,
    refused,
)
from app.services.schedules.manage import MAX_LIVE, Created
from app.services.schedules.wages import SCHEDULED_FREQUENCIES, NewWageSchedule
from app.services.wages.employers import MAX_WORKERS, check_terms
from app.services.wages.pay_runs import UNFUNDED, RunShown, check_run_limits
from app.services.wages.reports import MAX_PAYSLIPS
from tests.support import seeds


class FakeWages:
    # Provided by FakeUssdServices.
    calls: list[str]
    users: dict[str, Any]
    balances: dict[int, int]
    limits: Any
    sent_today: dict[int, int]
    sent_30_days: dict[int, int]
    _check_pin: Any
    _user: Any
    invite: Any
    _schedules: Any  # FakeSchedules': a wage schedule lists with the others

    def _wages(self) -> dict[str, Any]:
        if not hasattr(self, "_w"):
            self._w: dict[str, Any] = {
                "employers": set(), "workers": {}, "runs": {}, "keys": {}, "schedules": [],
            }  # fmt: skip
        return self._w

    # ---- arranging a test ---------------------------------------------------------

    def add_wage_worker(
        self, employer: int, phone: str, name: str, gross: int, frequency: str = "monthly"
    ) -> EmployedWorker:
        """The employer (made one) pays a worker on phone every item, as add_worker does."""
        found = self._wages()
        found["employers"].add(employer)
        worker = EmployedWorker(
            id=len(found["workers"]) + 1, employer_user_id=employer, phone=phone,
            display_name=name, gross_pay=gross, frequency=frequency, deductions=ITEMS,
            status="active", created_at=datetime.now(UTC), registered=phone in self.users,
        )  # fmt: skip
        found["workers"][worker.id] = worker
        return worker

    def schedule_wage_pay(self, employer: int, worker_id: int, next_due: datetime) -> None:
        """The employer pays the worker on a schedule, next at next_due."""
        self._wages()["schedules"].append((employer, worker_id, next_due))

    def pay_queued(self) -> None:
        """What the worker does with every queued line of a funded run."""
        for run_id, (run, lines) in list(self._wages()["runs"].items()):
            if run.status not in ("funded", "paying"):
                continue
            paid = []
            for line in lines:
                worker = self.users.get(line.phone)
                if worker is None:
                    self.balances[run.employer_user_id] += line.cost
                    paid.append(replace(line, status="failed", failure="not_registered"))
                else:
                    self.balances[worker.user_id] += line.net
                    paid.append(replace(line, status="paid", reference=f"WAGE{line.id:06d}"))
            failed = any(line.status == "failed" for line in paid)
            ended = replace(run, status="partially_failed" if failed else "completed")
            self._wages()["runs"][run_id] = (ended, paid)

    # ---- the port -------------------------------------------------------------------

    async def wage_workers(self, *, employer_user_id: int) -> list[EmployedWorker]:
        self.calls.append("wage_workers")
        found = self._wages()
        if employer_user_id not in found["employers"]:
            raise NotAnEmployer("become an employer first")
        return [
            replace(w, registered=w.phone in self.users)
            for w in found["workers"].values()
            if w.employer_user_id == employer_user_id
        ]

    async def draft_pay(
        self, *, employer_user_id: int, worker_id: int, pay_date: date, key: str
    ) -> RunShown:
        """As pay_runs.create_pay_run for one worker."""
        self.calls.append("draft_pay")
        found = self._wages()
        if employer_user_id not in found["employers"]:
            raise NotAnEmployer("become an employer first")
        earlier = found["keys"].get((employer_user_id, key))
        if earlier is not None:
            if earlier[1] != (worker_id, pay_date):
                raise IdempotencyConflict("this idempotency key was used for a different pay run")
            run, lines = found["runs"][earlier[0]]
            return RunShown(run=run, lines=lines, replayed=True)
        worker = found["workers"].get(worker_id)
        if worker is None or worker.employer_user_id != employer_user_id:
            raise refused("no_workers", "name active workers of this employer")
        slip = _payslip(worker, pay_date)
        run_id = len(found["runs"]) + 1
        now = datetime.now(UTC)
        line = PayRunLine(
            id=run_id, pay_run_id=run_id, worker_id=worker.id, phone=worker.phone,
            display_name=worker.display_name, gross=slip.gross, frequency=slip.frequency,
            deductions=slip.lines, employee_deductions=slip.employee_deductions,
            employer_contributions=slip.employer_contributions, net=slip.net, status="queued",
            transaction_id=None, failure=None, ended_at=None, reference=None,
        )  # fmt: skip
        run = PayRun(
            id=run_id, reference=f"RUN{run_id:07d}", employer_user_id=employer_user_id,
            pay_date=pay_date, status="draft", total_cost=line.cost, channel="ussd",
            request_hash="", hold_id=None, hold_day=None, created_at=now, approved_at=None,
            ended_at=None,
        )  # fmt: skip
        found["runs"][run_id] = (run, [line])
        found["keys"][(employer_user_id, key)] = (run_id, (worker_id, pay_date))
        return RunShown(run=run, lines=[line])

    async def approve_pay(
        self, *, employer_user_id: int, run_id: int, pin: str, attempt_key: str
    ) -> RunShown:
        """As pay_runs.approve_pay_run behind the PIN: the same checks, in order."""
        self.calls.append("approve_pay")
        self._check_pin(employer_user_id, pin, attempt_key)
        found = self._wages()["runs"].get(run_id)
        if found is None or found[0].employer_user_id != employer_user_id:
            raise PayRunNotFound("no such pay run")
        run, lines = found
        if run.status not in UNFUNDED:  # held before, or ended
            return RunShown(run=run, lines=lines, replayed=True)
        today = self.sent_today.get(employer_user_id, 0)
        month = self.sent_30_days.get(employer_user_id, 0)
        check_run_limits(self.limits, run.total_cost, max(x.cost for x in lines), today, month)
        balance = self.balances[employer_user_id]
        if balance < run.total_cost:
            raise InsufficientFunds(balance=balance, needed=run.total_cost)
        self.balances[employer_user_id] -= run.total_cost
        for totals in (self.sent_today, self.sent_30_days):
            totals[employer_user_id] = totals.get(employer_user_id, 0) + run.total_cost
        funded = replace(run, status="funded", approved_at=datetime.now(UTC))
        self._wages()["runs"][run_id] = (funded, lines)
        return RunShown(run=funded, lines=lines)

    async def my_pay(self, *, user_id: int) -> list[tuple[PayRunLine, date]]:
        self.calls.append("my_pay")
        phone = self._user(user_id).phone
        paid = [
            (line, run.pay_date)
            for run, lines in self._wages()["runs"].values()
            for line in lines
            if line.phone == phone and line.status == "paid"
        ]
        return sorted(paid, key=lambda pair: -pair[0].id)[:MAX_PAYSLIPS]

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
        """As the facade: become an employer, add_worker's checks in order, invite."""
        self.calls.append("employ_worker")
        name = check_terms(display_name, gross_pay, frequency, deductions)
        found = self._wages()
        found["employers"].add(employer_user_id)
        if self._user(employer_user_id).phone == phone:
            raise refused("send_to_self", "an employer does not pay themselves")
        mine = [w for w in found["workers"].values() if w.employer_user_id == employer_user_id]
        if len(mine) >= MAX_WORKERS:
            raise refused("too_many_workers", f"at most {MAX_WORKERS} workers")
        if any(w.phone == phone for w in mine):
            raise WorkerExists("this employer already pays a worker on this phone")
        added = self.add_wage_worker(employer_user_id, phone, name, gross_pay, frequency)
        added = replace(added, deductions=tuple(i for i in ITEMS if i in deductions))
        found["workers"][added.id] = added
        if added.registered:
            return added, None
        try:
            sent = await self.invite(sender_user_id=employer_user_id, phone=phone)
        except (InviteLimitReached, ValidationFailed):
            return added, "not_sent"
        return added, "invited" if sent else "already_invited"

    async def next_pay(self, *, user_id: int) -> list[tuple[str, datetime]]:
        self.calls.append("next_pay")
        phone = self._user(user_id).phone
        found = self._wages()
        upcoming = [
            (self._user(employer).full_name, due)
            for employer, worker_id, due in found["schedules"]
            if found["workers"][worker_id].phone == phone
        ]
        return sorted(upcoming, key=lambda pair: pair[1])[:3]

    async def schedule_wage(self, new: NewWageSchedule, *, pin: str, attempt_key: str) -> Created:
        """As schedule_pay behind the PIN: the checks a USSD journey can meet, in the same
        order; one schedule per key, listed with the owner's other schedules."""
        self.calls.append("schedule_wage")
        self._check_pin(new.employer_user_id, pin, attempt_key)
        worker = self._worker(new.employer_user_id, new.worker_id)
        if worker.frequency not in SCHEDULED_FREQUENCIES:
            raise refused("daily_not_scheduled", "a worker paid daily is paid by a pay run")
        now = datetime.now(UTC)
        slip = _payslip(worker, nairobi_day(now))
        rule = rules.Recurrence(worker.frequency, new.day, new.at_time, new.start_date)
        try:
            rules.check(rule)
        except rules.InvalidSchedule:
            raise refused("invalid_schedule", "invalid schedule") from None
        if new.start_date < nairobi_day(now):
            raise refused("invalid_start", "start: today or later")
        keys = self._wages().setdefault("schedule_keys", {})
        asked = (worker.id, new.day, new.at_time, new.start_date)
        earlier = keys.get((new.employer_user_id, new.idempotency_key))
        if earlier is not None:
            if earlier[1] != asked:
                raise IdempotencyConflict("this idempotency key was used for another schedule")
            return Created(self._schedules()[earlier[0]], replayed=True)
        found = self._schedules()
        live = [s for s in found.values() if s.owner_user_id == new.employer_user_id
                and s.status in (ACTIVE, PAUSED)]  # fmt: skip
        if len(live) >= MAX_LIVE:
            raise refused("too_many_schedules", f"at most {MAX_LIVE} scheduled payments")
        made = Schedule(
            id=len(found) + 1, owner_user_id=new.employer_user_id, kind="wage",
            payee=str(worker.id), payee_name=worker.display_name,
            amount=slip.gross + slip.employer_contributions, note=None,
            frequency=worker.frequency, day=new.day, at_time=new.at_time,
            start_date=new.start_date, until_date=None, max_count=None, status=ACTIVE,
            consecutive_skips=0, next_due_at=rules.next_due(rule, now), reminded_for=None,
            channel=new.channel, request_hash="", created_at=now, paused_at=None,
            stopped_at=None, finished_at=None,
        )  # fmt: skip
        found[made.id] = made
        keys[(new.employer_user_id, new.idempotency_key)] = (made.id, asked)
        assert made.next_due_at is not None
        self.schedule_wage_pay(new.employer_user_id, worker.id, made.next_due_at)
        return Created(made, replayed=False)

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
        """As employers.edit_worker behind the PIN: the same checks, in order."""
        self.calls.append("edit_worker")
        self._check_pin(employer_user_id, pin, attempt_key)
        was = self._worker(employer_user_id, worker_id)
        gross_pay = was.gross_pay if gross_pay is None else gross_pay
        frequency = was.frequency if frequency is None else frequency
        deductions = list(was.deductions) if deductions is None else deductions
        name = check_terms(
            was.display_name if display_name is None else display_name,
            gross_pay,
            frequency,
            deductions,
        )
        live = [s for s in self._schedules().values() if s.kind == "wage"
                and s.payee == str(worker_id) and s.status in (ACTIVE, PAUSED)]  # fmt: skip
        if frequency != was.frequency and live:
            raise refused("frequency_scheduled", "the worker is paid on a schedule: stop it first")
        edited = replace(
            was, display_name=name, gross_pay=gross_pay, frequency=frequency,
            deductions=tuple(item for item in ITEMS if item in deductions),
        )  # fmt: skip
        self._wages()["workers"][worker_id] = edited
        return replace(edited, registered=edited.phone in self.users)

    def _worker(self, employer_user_id: int, worker_id: int) -> EmployedWorker:
        """As employers.find_worker: NotAnEmployer, then WorkerNotFound."""
        found = self._wages()
        if employer_user_id not in found["employers"]:
            raise NotAnEmployer("become an employer first")
        worker = found["workers"].get(worker_id)
        if worker is None or worker.employer_user_id != employer_user_id:
            raise WorkerNotFound("no such worker")
        return worker


def _payslip(worker: EmployedWorker, pay_date: date):
    """As pay_runs.payslips for one worker, under the seeded rules."""
    try:
        in_force = rules_in_force(list(seeds.statutory_rules()), list(seeds.paye_bands()), pay_date)
    except NoRuleInForce as exc:
        raise refused("no_rule_in_force", f"no {exc.item} rule is in force then") from exc
    try:
        return compute_payslip(
            worker.gross_pay, worker.frequency, in_force, frozenset(worker.deductions)
        )
    except PayTooLow as exc:
        raise refused("pay_too_low", f"{worker.display_name}: {exc}") from exc
