"""Wages on real PostgreSQL: employers and workers, a pay run from draft to paid, the
hold, the dues accounts, a failed line released, a crash mid-run paying nobody twice,
the payslip SMS and the monthly dues report."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.wages import ITEMS
from app.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    NotAnEmployer,
    ValidationFailed,
    WorkerExists,
)
from app.services import adjustments, outbox_dispatch
from app.services.adjustments import NotReversible
from app.services.wages import employers, line_payments, pay_runs, reports, retries
from app.worker.handlers import HandlerRegistry
from app.worker.outbox import OutboxWorker
from app.worker.wage_handlers import WageLineHandler
from tests.support.wallets import (
    LedgerCheck,
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

CLEAN = LedgerCheck(0, 0, 0, 0, 0)
PAY_DATE = date(2025, 11, 28)
MINIMUM_WAGE = 1_611_375  # Nairobi domestic worker, KES 16,113.75 a month
UNREGISTERED = phone_of(99)


@pytest.fixture
def household(clean_database, settings):
    """An employer (funded KES 100,000) and two registered workers (one Kiswahili)."""
    box, pin_hash = registration_secrets(settings)
    db = clean_database
    employer = register(db, box, pin_hash, phone=phone_of(1), name="Wanjiru Kamau")
    workers = [
        register(db, box, pin_hash, phone=phone_of(2), name="Achieng Odhiambo", language="sw"),
        register(db, box, pin_hash, phone=phone_of(3), name="Kiprop Ruto"),
    ]
    fund(db, phone_of(1), 10_000_000)
    assert employers.become_employer(UnitOfWork(db), employer)
    return db, employer, workers


def add(db, employer: int, phone: str, name: str, gross: int = MINIMUM_WAGE, items=ITEMS):
    return employers.add_worker(
        UnitOfWork(db),
        employer_user_id=employer,
        phone=phone,
        display_name=name,
        gross_pay=gross,
        frequency="monthly",
        deductions=list(items),
    )


def wage_worker(db) -> OutboxWorker:
    # Wage lines only: the SMS they queue stay in the outbox, read there.
    handlers = HandlerRegistry(WageLineHandler())
    return OutboxWorker(db, handlers, backoff=lambda attempt: 0.0, batch_size=5_000)


def account_balance(db, code: str) -> int:
    with db.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT balance FROM ledger_accounts WHERE code = %s", (code,))
        row = cur.fetchone()
        conn.rollback()
    return row[0] if row else 0


def outbox_payloads(db, kind: str) -> list[dict]:
    with db.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT payload FROM outbox WHERE kind = %s ORDER BY id", (kind,))
        rows = [row[0] for row in cur.fetchall()]
        conn.rollback()
    return rows


def new_run(db, employer: int, key: str = "run-1", **options) -> pay_runs.RunShown:
    options.setdefault("pay_date", PAY_DATE)
    return pay_runs.create_pay_run(
        UnitOfWork(db), employer_user_id=employer, idempotency_key=key, **options
    )


def approve(db, employer: int, run_id: int) -> pay_runs.RunShown:
    return pay_runs.approve_pay_run(UnitOfWork(db), employer_user_id=employer, run_id=run_id)


def test_any_user_becomes_an_employer_once(household):
    db, employer, workers = household
    assert not employers.become_employer(UnitOfWork(db), employer)
    with pytest.raises(NotAnEmployer):
        add(db, workers[0], phone_of(3), "Kiprop")


def test_a_worker_is_added_once_per_phone_and_never_the_employer(household):
    db, employer, _ = household
    added = add(db, employer, phone_of(2), "Achieng")
    assert (added.registered, added.deductions) == (True, ITEMS)
    assert not add(db, employer, UNREGISTERED, "Baraka").registered  # the channel invites
    with pytest.raises(WorkerExists):
        add(db, employer, phone_of(2), "Achieng again")
    with pytest.raises(ValidationFailed) as refused:
        add(db, employer, phone_of(1), "Myself")
    assert refused.value.code == "send_to_self"
    with pytest.raises(ValidationFailed) as refused:
        add(db, employer, phone_of(4), "Nobody", items=["nhif"])
    assert refused.value.code == "invalid_deductions"


def test_an_employer_pays_at_most_max_workers_active_at_once(household, monkeypatch):
    """The cap counts active workers in PostgreSQL (a count, not the list read back):
    a removed worker frees a place. The cap is lowered here so the test hires three."""
    db, employer, _ = household
    monkeypatch.setattr(employers, "MAX_WORKERS", 3)
    hired = [add(db, employer, phone_of(10 + n), f"Worker {n}") for n in range(3)]
    with pytest.raises(ValidationFailed) as refused:
        add(db, employer, phone_of(20), "One too many")
    assert refused.value.code == "too_many_workers"
    employers.remove_worker(UnitOfWork(db), employer, hired[0].id)
    assert add(db, employer, phone_of(20), "In their place").display_name == "In their place"


def test_a_draft_run_shows_each_payslip_and_its_key_answers_the_same_run(household):
    db, employer, _ = household
    add(db, employer, phone_of(2), "Achieng")
    add(db, employer, phone_of(3), "Kiprop", gross=5_000_000)

    made = new_run(db, employer)
    again = new_run(db, employer)

    assert made.run.status == "draft" and not made.replayed
    assert (again.run.id, again.replayed) == (made.run.id, True)
    assert [line.net for line in made.lines] == [1_446_208, 3_902_915]
    assert made.run.total_cost == sum(
        line.gross + line.employer_contributions for line in made.lines
    )
    with pytest.raises(IdempotencyConflict):
        new_run(db, employer, pay_date=date(2025, 12, 31))


def test_a_pay_run_pays_every_worker_once_and_accrues_the_deductions(household):
    db, employer, (achieng, kiprop) = household
    add(db, employer, phone_of(2), "Achieng")
    add(db, employer, phone_of(3), "Kiprop", gross=5_000_000)
    run = new_run(db, employer).run
    before = wallet_balance(db, employer)

    funded = approve(db, employer, run.id)
    assert funded.run.status == "funded"
    assert wallet_balance(db, employer) == before - run.total_cost
    assert approve(db, employer, run.id).replayed  # nothing held twice
    assert wallet_balance(db, employer) == before - run.total_cost
    assert len(outbox_payloads(db, "wage_line")) == 2

    wage_worker(db).run_once()

    shown = pay_runs.show_pay_run(UnitOfWork(db), employer, run.id)
    assert shown.run.status == "completed"
    assert [line.status for line in shown.lines] == ["paid", "paid"]
    assert wallet_balance(db, achieng) == 1_446_208
    assert wallet_balance(db, kiprop) == 3_902_915
    for item in ITEMS:
        owed = sum(
            sum(x.employee + x.employer for x in line.deductions if x.item == item)
            for line in shown.lines
        )
        assert account_balance(db, line_payments.dues_code(employer, item)) == owed
    assert account_balance(db, f"wage_hold:{employer % 16}") == 0
    assert check_ledger(db) == CLEAN


def test_the_payslip_sms_is_one_gsm7_message_in_the_workers_language(household):
    db, employer, _ = household
    add(db, employer, phone_of(2), "Achieng")
    run = new_run(db, employer).run
    approve(db, employer, run.id)
    wage_worker(db).run_once()

    [slip] = [p for p in outbox_payloads(db, "sms") if p["template"] == "payslip"]
    [line] = pay_runs.show_pay_run(UnitOfWork(db), employer, run.id).lines
    assert slip["to"] == phone_of(2)
    assert slip["message"] == (
        f"PayTrace mshahara Nov: Gross 16114 NSSF 967 SHIF 443 AHL 242 Net 14462. "
        f"Ref {line.reference}"
    )
    assert len(slip["message"]) <= 160


def test_a_line_to_a_phone_without_a_wallet_fails_and_its_cost_goes_back(household):
    db, employer, _ = household
    add(db, employer, phone_of(2), "Achieng")
    add(db, employer, UNREGISTERED, "Baraka")
    run = new_run(db, employer).run
    before = wallet_balance(db, employer)
    approve(db, employer, run.id)

    wage_worker(db).run_once()

    shown = pay_runs.show_pay_run(UnitOfWork(db), employer, run.id)
    assert shown.run.status == "partially_failed"
    paid, failed = shown.lines
    assert (paid.status, failed.status, failed.failure) == ("paid", "failed", "not_registered")
    assert wallet_balance(db, employer) == before - paid.cost
    assert account_balance(db, f"wage_hold:{employer % 16}") == 0
    assert check_ledger(db) == CLEAN


def test_a_failed_line_is_retried_once_in_a_new_run_once_the_worker_registered(household, settings):
    db, employer, _ = household
    add(db, employer, phone_of(2), "Achieng")
    add(db, employer, UNREGISTERED, "Baraka")
    run = new_run(db, employer).run
    approve(db, employer, run.id)
    wage_worker(db).run_once()
    box, pin_hash = registration_secrets(settings)
    baraka = register(db, box, pin_hash, phone=UNREGISTERED, name="Baraka Mwangi")

    retry = retries.retry_failed_lines(
        UnitOfWork(db), employer_user_id=employer, run_id=run.id, idempotency_key="again"
    )
    assert [line.phone for line in retry.lines] == [UNREGISTERED]
    assert retry.run.pay_date == PAY_DATE
    statuses = [
        line.status for line in pay_runs.show_pay_run(UnitOfWork(db), employer, run.id).lines
    ]
    assert statuses == ["paid", "retried"]
    assert retries.retry_failed_lines(
        UnitOfWork(db), employer_user_id=employer, run_id=run.id, idempotency_key="again"
    ).replayed
    with pytest.raises(ValidationFailed) as refused:
        retries.retry_failed_lines(
            UnitOfWork(db), employer_user_id=employer, run_id=run.id, idempotency_key="thrice"
        )
    assert refused.value.code == "nothing_to_retry"

    approve(db, employer, retry.run.id)
    wage_worker(db).run_once()
    assert wallet_balance(db, baraka) == 1_446_208
    assert check_ledger(db) == CLEAN


def test_approving_without_the_money_holds_nothing(household):
    db, employer, _ = household
    # Each line within the basic tier's per-payment limit, both above the balance.
    add(db, employer, phone_of(2), "Achieng", gross=6_000_000)
    add(db, employer, phone_of(3), "Kiprop", gross=6_000_000)
    run = new_run(db, employer).run

    with pytest.raises(InsufficientFunds):
        approve(db, employer, run.id)

    assert pay_runs.show_pay_run(UnitOfWork(db), employer, run.id).run.status == "draft"
    assert outbox_payloads(db, "wage_line") == []


def test_a_crash_mid_run_pays_nobody_twice(household):
    db, employer, (achieng, kiprop) = household
    add(db, employer, phone_of(2), "Achieng")
    add(db, employer, phone_of(3), "Kiprop")
    run = new_run(db, employer).run
    lines = approve(db, employer, run.id).lines
    # A worker claimed the first line's row and died before settling it...
    claimed = outbox_dispatch.claim_one(
        UnitOfWork(db), kinds=["wage_line"], worker_id="dead", lease_s=0.0
    )
    assert claimed is not None
    # ...and another paid the second line's payment twice over (a rerun of its work).
    assert line_payments.pay_line(UnitOfWork(db), lines[1].id) == "paid"
    assert line_payments.pay_line(UnitOfWork(db), lines[1].id) == "paid"

    wage_worker(db).run_once()  # reclaims the dead worker's row (resumable) and pays

    assert wallet_balance(db, achieng) == wallet_balance(db, kiprop) == 1_446_208
    shown = pay_runs.show_pay_run(UnitOfWork(db), employer, run.id)
    assert shown.run.status == "completed"
    assert len([p for p in outbox_payloads(db, "sms") if p["template"] == "payslip"]) == 2
    assert check_ledger(db) == CLEAN


def test_no_wage_movement_can_be_reversed(household):
    db, employer, _ = household
    add(db, employer, phone_of(2), "Achieng")
    add(db, employer, UNREGISTERED, "Baraka")
    run = new_run(db, employer).run
    approve(db, employer, run.id)
    wage_worker(db).run_once()

    with db.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM journal_transactions WHERE kind LIKE 'wage_%%'")
        ids = [row[0] for row in cur.fetchall()]
        conn.rollback()
    assert len(ids) == 3  # the hold, the payment, the release
    for transaction_id in ids:
        with pytest.raises(NotReversible):
            adjustments.reverse(UnitOfWork(db), transaction_id=transaction_id, reason="test")


def test_the_monthly_report_says_what_is_due_to_whom(household):
    db, employer, _ = household
    add(db, employer, phone_of(2), "=Achieng")
    run = new_run(db, employer).run
    approve(db, employer, run.id)
    wage_worker(db).run_once()

    rows = reports.dues_rows(UnitOfWork(db), employer, 2025, 11)
    assert [r for r in rows if r[2] == "total"] == [
        ("NSSF", "nssf", "total", "", MINIMUM_WAGE, 96_683, 96_683, 193_366),
        ("SHA", "shif", "total", "", MINIMUM_WAGE, 44_313, 0, 44_313),
        ("KRA", "ahl", "total", "", MINIMUM_WAGE, 24_171, 24_171, 48_342),
        ("KRA", "paye", "total", "", MINIMUM_WAGE, 0, 0, 0),  # below the relief
    ]
    text = reports.dues_csv(UnitOfWork(db), employer, 2025, 11)
    assert text.splitlines()[0].startswith("authority,item,worker_phone")
    assert f"NSSF,nssf,{phone_of(2)},'=Achieng,1611375,96683,96683,193366" in text
    assert reports.dues_rows(UnitOfWork(db), employer, 2025, 10) == []


def test_workers_racing_on_one_run_pay_every_line_once(crowd, settings):
    """Four outbox workers and a rerun of every line's payment, all at once."""
    db = crowd
    box, pin_hash = registration_secrets(settings)
    employer = register(db, box, pin_hash, phone=phone_of(1), name="Wanjiru Kamau")
    fund(db, phone_of(1), 10_000_000)
    employers.become_employer(UnitOfWork(db), employer)
    workers = [
        register(db, box, pin_hash, phone=phone_of(n), name="Fundi Mjenzi") for n in range(2, 42)
    ]
    for n in range(2, 42):
        add(db, employer, phone_of(n), f"Fundi {n}", gross=100_000)
    lines = approve(db, employer, new_run(db, employer).run.id).lines
    start = threading.Barrier(5)

    def outbox_worker() -> None:
        start.wait()
        wage_worker(db).run_once()

    def rerun_every_line() -> None:
        start.wait()
        for line in reversed(lines):
            line_payments.pay_line(UnitOfWork(db), line.id)

    threads = [threading.Thread(target=outbox_worker) for _ in range(4)]
    threads.append(threading.Thread(target=rerun_every_line))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert {wallet_balance(db, worker) for worker in workers} == {lines[0].net}
    with db.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM journal_transactions WHERE kind = 'wage_payment'")
        assert cur.fetchone()[0] == len(lines)
        conn.rollback()
    shown = pay_runs.show_pay_run(UnitOfWork(db), employer, lines[0].pay_run_id)
    assert shown.run.status == "completed"
    assert account_balance(db, f"wage_hold:{employer % 16}") == 0
    assert check_ledger(db) == CLEAN
