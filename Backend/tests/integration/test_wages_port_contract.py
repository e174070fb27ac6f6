"""The USSD port's wages methods: FakeUssdServices and ChannelServices answer alike
(tests/support/port_contract.py runs each scenario on both). Ids, references and times
differ by nature and are left out of what is compared."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain import schedules as rules
from app.domain.money import nairobi_day
from app.domain.wages import ITEMS
from app.services.facade import ChannelServices
from app.services.schedules import wages as wage_schedules
from app.services.wages import employers, line_payments
from app.services.wages.pay_runs import RunShown
from tests.support.port_contract import (
    AMINA,
    BARAKA,
    CHEPTOO,
    PIN,
    WRONG,
    Side,
    make_sides,
    observe,
    outcome,
)
from tests.unit.fakes import FakeUssdServices

PAY_DATE = date(2025, 11, 28)
MINIMUM_WAGE = 1_611_375


@pytest.fixture
def sides(request):
    return make_sides(request)


def add_worker(
    side: Side, employer: int, phone: str, name: str, gross: int, frequency: str = "monthly"
) -> int:
    """The employer (made one) pays a worker on phone every item; the worker's id."""
    if isinstance(side.port, FakeUssdServices):
        return side.port.add_wage_worker(employer, phone, name, gross, frequency).id
    assert isinstance(side.port, ChannelServices)
    database = side.port.runtime.database
    employers.become_employer(UnitOfWork(database), employer)
    return employers.add_worker(
        UnitOfWork(database), employer_user_id=employer, phone=phone, display_name=name,
        gross_pay=gross, frequency=frequency, deductions=["nssf", "shif", "ahl", "paye"],
    ).id  # fmt: skip


def pay_queued(side: Side) -> None:
    """The worker pays every queued line."""
    if isinstance(side.port, FakeUssdServices):
        side.port.pay_queued()
        return
    database = side.port.runtime.database
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM pay_run_lines WHERE status = 'queued' ORDER BY id")
        queued = [row[0] for row in cur.fetchall()]
        conn.rollback()
    for line_id in queued:
        line_payments.pay_line(UnitOfWork(database), line_id)


def shown(run: RunShown) -> tuple:
    return (
        run.run.status, run.run.pay_date, run.run.total_cost, run.replayed,
        [(x.display_name, x.gross, x.deductions, x.net, x.status) for x in run.lines],
    )  # fmt: skip


def test_an_employer_pays_one_worker_behind_the_pin_and_the_worker_sees_the_pay(sides):
    async def scenario(side: Side):
        employer = side.add_user(AMINA, "Amina Wanjiru")
        worker = side.add_user(BARAKA, "Baraka Otieno")
        side.fund(AMINA, 5_000_000)
        worker_id = add_worker(side, employer, BARAKA, "Baraka", MINIMUM_WAGE)
        port = side.port
        workers = [(w.display_name, w.gross_pay, w.registered, w.deductions)
                   for w in await port.wage_workers(employer_user_id=employer)]  # fmt: skip
        draft = await port.draft_pay(
            employer_user_id=employer, worker_id=worker_id, pay_date=PAY_DATE, key="k1"
        )
        again = await port.draft_pay(
            employer_user_id=employer, worker_id=worker_id, pay_date=PAY_DATE, key="k1"
        )
        other = await outcome(
            port.draft_pay(employer_user_id=employer, worker_id=worker_id,
                           pay_date=date(2025, 12, 31), key="k1")
        )  # fmt: skip
        wrong = await outcome(
            port.approve_pay(employer_user_id=employer, run_id=draft.run.id, pin=WRONG,
                             attempt_key="a1")
        )  # fmt: skip
        approved = await port.approve_pay(
            employer_user_id=employer, run_id=draft.run.id, pin=PIN, attempt_key="a2"
        )
        twice = await port.approve_pay(
            employer_user_id=employer, run_id=draft.run.id, pin=PIN, attempt_key="a3"
        )
        before = await port.my_pay(user_id=worker)
        pay_queued(side)
        after = [(line.gross, line.net, line.status, day) for line, day in
                 await port.my_pay(user_id=worker)]  # fmt: skip
        return (workers, shown(draft), shown(again), other, wrong, shown(approved),
                shown(twice), before, after)  # fmt: skip

    result = observe(sides, scenario)
    assert result[1][0] == "draft" and result[2][3] is True
    assert result[3] == ("IdempotencyConflict", {"code": "idempotency_key_reused"})
    assert result[4] == ("WrongPin", {"code": "wrong_pin", "attempts_left": 2})
    assert result[5][0] == "funded" and result[6][3] is True
    assert result[8] == [(MINIMUM_WAGE, 1_446_208, "paid", PAY_DATE)]


def test_paying_a_worker_is_refused_as_the_services_refuse_it(sides):
    async def scenario(side: Side):
        employer = side.add_user(AMINA, "Amina Wanjiru")
        stranger = side.add_user(CHEPTOO, "Cheptoo Kip")
        side.add_user(BARAKA, "Baraka Otieno")
        side.fund(AMINA, 1_000_000)
        worker_id = add_worker(side, employer, BARAKA, "Baraka", MINIMUM_WAGE)
        port = side.port
        not_employer = await outcome(port.wage_workers(employer_user_id=stranger))
        not_theirs = await outcome(
            port.draft_pay(employer_user_id=employer, worker_id=worker_id + 99,
                           pay_date=PAY_DATE, key="k1")
        )  # fmt: skip
        too_early = await outcome(
            port.draft_pay(employer_user_id=employer, worker_id=worker_id,
                           pay_date=date(2024, 12, 1), key="k2")
        )  # fmt: skip
        draft = await port.draft_pay(
            employer_user_id=employer, worker_id=worker_id, pay_date=PAY_DATE, key="k3"
        )
        short = await outcome(
            port.approve_pay(employer_user_id=employer, run_id=draft.run.id, pin=PIN,
                             attempt_key="a1")
        )  # fmt: skip
        foreign = await outcome(
            port.approve_pay(employer_user_id=stranger, run_id=draft.run.id, pin=PIN,
                             attempt_key="a2")
        )  # fmt: skip
        return not_employer, not_theirs, too_early, short, foreign

    not_employer, not_theirs, too_early, short, foreign = observe(sides, scenario)
    assert not_employer == ("NotAnEmployer", {"code": "not_an_employer"})
    assert not_theirs == ("ValidationFailed", {"code": "no_workers"})
    assert too_early == ("ValidationFailed", {"code": "no_rule_in_force"})
    # The cost: gross pay and the employer's NSSF (966.83) and levy (241.71).
    needed = MINIMUM_WAGE + 96_683 + 24_171
    assert short == (
        "InsufficientFunds",
        {"code": "insufficient_funds", "balance": 1_000_000, "needed": needed},
    )
    assert foreign == ("PayRunNotFound", {"code": "pay_run_not_found"})


def schedule_pay(side: Side, employer: int, worker_id: int, now: datetime) -> None:
    """The employer pays the worker monthly on the 31st at 09:00 from now."""
    if isinstance(side.port, FakeUssdServices):
        rule = rules.Recurrence("monthly", 31, time(9, 0), now.date())
        due = rules.next_due(rule, now)
        assert due is not None
        side.port.schedule_wage_pay(employer, worker_id, due)
        return
    database = side.port.runtime.database
    wage_schedules.schedule_pay(
        UnitOfWork(database),
        wage_schedules.NewWageSchedule(
            employer_user_id=employer, worker_id=worker_id, day=31, at_time=time(9, 0),
            start_date=now.date(), idempotency_key=f"k{worker_id}", channel="ussd",
        ),
        now,
    )  # fmt: skip


def test_an_employer_adds_workers_and_the_worker_sees_the_next_pay_date(sides):
    async def scenario(side: Side):
        employer = side.add_user(AMINA, "Amina Wanjiru")
        worker = side.add_user(BARAKA, "Baraka Otieno")
        port = side.port
        added, invitation = await port.employ_worker(
            employer_user_id=employer, phone=BARAKA, display_name=" Baraka ",
            gross_pay=MINIMUM_WAGE, frequency="monthly", deductions=list(ITEMS),
        )  # fmt: skip
        stranger, invited = await port.employ_worker(
            employer_user_id=employer, phone=CHEPTOO, display_name="Cheptoo",
            gross_pay=50_000, frequency="daily", deductions=["paye", "nssf"],
        )  # fmt: skip
        twice = await outcome(
            port.employ_worker(employer_user_id=employer, phone=BARAKA, display_name="B",
                               gross_pay=1, frequency="weekly", deductions=[])
        )  # fmt: skip
        themselves = await outcome(
            port.employ_worker(employer_user_id=employer, phone=AMINA, display_name="A",
                               gross_pay=1, frequency="weekly", deductions=[])
        )  # fmt: skip
        bad_name = await outcome(
            port.employ_worker(employer_user_id=employer, phone=CHEPTOO, display_name="",
                               gross_pay=1, frequency="weekly", deductions=[])
        )  # fmt: skip
        listed = [(w.display_name, w.gross_pay, w.frequency, w.deductions, w.registered)
                  for w in await port.wage_workers(employer_user_id=employer)]  # fmt: skip
        before = await port.next_pay(user_id=worker)
        now = datetime(2027, 1, 20, 7, tzinfo=UTC)
        schedule_pay(side, employer, added.id, now)
        after = await port.next_pay(user_id=worker)
        return (added.display_name, invitation, stranger.registered, invited, twice,
                themselves, bad_name, listed, before, after)  # fmt: skip

    result = observe(sides, scenario)
    assert result[:4] == ("Baraka", None, False, "invited")
    assert result[4] == ("WorkerExists", {"code": "worker_exists"})
    assert result[5] == ("ValidationFailed", {"code": "send_to_self"})
    assert result[6] == ("ValidationFailed", {"code": "invalid_name"})
    assert result[7][0] == (
        "Baraka",
        MINIMUM_WAGE,
        "monthly",
        ("nssf", "shif", "ahl", "paye"),
        True,
    )
    # What was chosen is what is kept, in ITEMS' order.
    assert result[7][1] == ("Cheptoo", 50_000, "daily", ("nssf", "paye"), False)
    assert result[8] == []
    assert result[9] == [("Amina Wanjiru", datetime(2027, 1, 31, 6, tzinfo=UTC))]


def new_wage_schedule(employer: int, worker_id: int, day: int, key: str):
    return wage_schedules.NewWageSchedule(
        employer_user_id=employer, worker_id=worker_id, day=day, at_time=time(9, 0),
        start_date=nairobi_day(datetime.now(UTC)), idempotency_key=key, channel="ussd",
    )  # fmt: skip


def test_an_employer_schedules_a_workers_pay_behind_the_pin_once_per_key(sides):
    async def scenario(side: Side):
        employer = side.add_user(AMINA, "Amina Wanjiru")
        worker = side.add_user(BARAKA, "Baraka Otieno")
        stranger = side.add_user(CHEPTOO, "Cheptoo Kip")
        monthly = add_worker(side, employer, BARAKA, "Baraka", MINIMUM_WAGE)
        daily = add_worker(side, employer, CHEPTOO, "Cheptoo", 50_000, "daily")
        port = side.port

        async def make(who: int, worker_id: int, day: int, key: str, pin: str = PIN):
            return await outcome(
                port.schedule_wage(new_wage_schedule(who, worker_id, day, key), pin=pin,
                                   attempt_key=f"{key}:{pin}")
            )  # fmt: skip

        wrong = await make(employer, monthly, 31, "k1", WRONG)
        made = await port.schedule_wage(
            new_wage_schedule(employer, monthly, 31, "k1"), pin=PIN, attempt_key="k1:ok"
        )
        again = await port.schedule_wage(
            new_wage_schedule(employer, monthly, 31, "k1"), pin=PIN, attempt_key="k1:again"
        )
        other = await make(employer, monthly, 15, "k1")
        s = made.schedule
        listed, _ = await port.schedules(owner_user_id=employer, limit=5)
        return (
            wrong,
            (s.kind, s.payee, s.payee_name, s.amount, s.frequency, s.day, s.status),
            s.next_due_at is not None and s.next_due_at > datetime.now(UTC),
            (again.replayed, again.schedule.id == s.id),
            other,
            [(x.id == s.id, x.kind) for x in listed],
            await make(employer, daily, 1, "k2"),
            await make(employer, monthly + 99, 1, "k3"),
            await make(stranger, monthly, 1, "k4"),
            await make(employer, monthly, 32, "k5"),
            [name for name, _ in await port.next_pay(user_id=worker)],
            str(monthly),
        )

    result = observe(sides, scenario)
    assert result[0] == ("WrongPin", {"code": "wrong_pin", "attempts_left": 2})
    # The whole cost: gross pay and the employer's NSSF and levy.
    cost = MINIMUM_WAGE + 96_683 + 24_171
    assert result[1] == ("wage", result[11], "Baraka", cost, "monthly", 31, "active")
    assert result[2] is True and result[3] == (True, True)
    assert result[4] == ("IdempotencyConflict", {"code": "idempotency_key_reused"})
    assert result[5] == [(True, "wage")]
    assert result[6] == ("ValidationFailed", {"code": "daily_not_scheduled"})
    assert result[7] == ("WorkerNotFound", {"code": "worker_not_found"})
    assert result[8] == ("NotAnEmployer", {"code": "not_an_employer"})
    assert result[9] == ("ValidationFailed", {"code": "invalid_schedule"})
    assert result[10] == ["Amina Wanjiru"]


def test_an_employer_changes_a_workers_pay_behind_the_pin(sides):
    async def scenario(side: Side):
        employer = side.add_user(AMINA, "Amina Wanjiru")
        stranger = side.add_user(CHEPTOO, "Cheptoo Kip")
        side.add_user(BARAKA, "Baraka Otieno")
        worker_id = add_worker(side, employer, BARAKA, "Baraka", MINIMUM_WAGE)
        port = side.port

        async def edit(who: int, wid: int, gross: int, every: str, key: str, pin: str = PIN):
            found = await outcome(
                port.edit_worker(employer_user_id=who, worker_id=wid, gross_pay=gross,
                                 frequency=every, pin=pin, attempt_key=key)
            )  # fmt: skip
            if isinstance(found, tuple):
                return found
            return (found.display_name, found.gross_pay, found.frequency, found.deductions)

        wrong = await edit(employer, worker_id, 2_000_000, "weekly", "a1", WRONG)
        weekly = await edit(employer, worker_id, 2_000_000, "weekly", "a2")
        listed = [(w.gross_pay, w.frequency)
                  for w in await port.wage_workers(employer_user_id=employer)]  # fmt: skip
        await port.schedule_wage(
            new_wage_schedule(employer, worker_id, 5, "s1"), pin=PIN, attempt_key="s1"
        )
        scheduled = await edit(employer, worker_id, 2_000_000, "monthly", "a3")
        same_every = await edit(employer, worker_id, 2_500_000, "weekly", "a4")
        zero = await edit(employer, worker_id, 0, "weekly", "a5")
        foreign = await edit(employer, worker_id + 99, 100, "weekly", "a6")
        not_employer = await edit(stranger, worker_id, 100, "weekly", "a7")
        return wrong, weekly, listed, scheduled, same_every, zero, foreign, not_employer

    result = observe(sides, scenario)
    assert result[0] == ("WrongPin", {"code": "wrong_pin", "attempts_left": 2})
    items = ("nssf", "shif", "ahl", "paye")
    assert result[1] == ("Baraka", 2_000_000, "weekly", items)
    assert result[2] == [(2_000_000, "weekly")]
    assert result[3] == ("ValidationFailed", {"code": "frequency_scheduled"})
    assert result[4] == ("Baraka", 2_500_000, "weekly", items)
    assert result[5] == ("ValidationFailed", {"code": "invalid_amount"})
    assert result[6] == ("WorkerNotFound", {"code": "worker_not_found"})
    assert result[7] == ("NotAnEmployer", {"code": "not_an_employer"})


def test_an_employer_renames_a_worker_and_chooses_the_deductions_behind_the_pin(sides):
    async def scenario(side: Side):
        employer = side.add_user(AMINA, "Amina Wanjiru")
        side.add_user(BARAKA, "Baraka Otieno")
        worker_id = add_worker(side, employer, BARAKA, "Baraka", MINIMUM_WAGE)
        port = side.port

        async def edit(key: str, pin: str = PIN, **changes):
            found = await outcome(
                port.edit_worker(employer_user_id=employer, worker_id=worker_id, pin=pin,
                                 attempt_key=key, **changes)
            )  # fmt: skip
            if isinstance(found, tuple):
                return found
            return (found.display_name, found.gross_pay, found.frequency, found.deductions)

        wrong = await edit("b1", WRONG, display_name="Baraka O")
        renamed = await edit("b2", display_name=" Baraka O ")
        chosen = await edit("b3", deductions=["paye", "nssf"])
        none = await edit("b4", deductions=[])
        bad_name = await edit("b5", display_name="W" * 31)
        bad_item = await edit("b6", deductions=["lottery"])
        twice = await edit("b7", deductions=["nssf", "nssf"])
        return wrong, renamed, chosen, none, bad_name, bad_item, twice

    result = observe(sides, scenario)
    assert result[0] == ("WrongPin", {"code": "wrong_pin", "attempts_left": 2})
    assert result[1] == ("Baraka O", MINIMUM_WAGE, "monthly", ITEMS)
    assert result[2] == ("Baraka O", MINIMUM_WAGE, "monthly", ("nssf", "paye"))
    assert result[3] == ("Baraka O", MINIMUM_WAGE, "monthly", ())
    assert result[4] == ("ValidationFailed", {"code": "invalid_name"})
    assert result[5] == ("ValidationFailed", {"code": "invalid_deductions"})
    assert result[6] == ("ValidationFailed", {"code": "invalid_deductions"})
