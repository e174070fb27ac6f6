"""A pay run of 1,000 workers whose worker process is killed mid-run: every worker is
paid once, the ledger balances and the employer's hold is exact.

The worker runs in a real OS process (PayTrace's own OutboxWorker and wage handler,
real PostgreSQL) and is killed with SIGKILL once a few hundred lines are paid: whatever
line it was settling is rolled back by PostgreSQL, and its claimed row stays 'sending'.
A new worker then reclaims that row after its lease (the kind is resumable) and pays
the rest.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from app.db.unit_of_work import UnitOfWork
from app.services.wages import employers, pay_runs
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
)

BACKEND_DIR = Path(__file__).resolve().parents[2]
WORKERS = 1_000
LEASE_S = 1.0
DAY_WAGE = 100_000  # KES 1,000, paid daily
# The workers are registered and added by this many threads at once, each call through
# the real services in its own transaction as before: one by one, 2,000 commits each
# waiting for its own flush took most of the test (37 s in CI); side by side PostgreSQL
# flushes them together. The pay run, the kill and the rescue are as they were.
HIRING_THREADS = 8
PAYER = """
import sys
from app.db.pool import Database
from app.worker.handlers import HandlerRegistry
from app.worker.outbox import OutboxWorker
from app.worker.wage_handlers import WageLineHandler

worker = OutboxWorker(Database(sys.argv[1], statement_timeout_ms=60_000),
                      HandlerRegistry(WageLineHandler()), lease_s=float(sys.argv[2]),
                      batch_size=100_000, backoff=lambda attempt: 0.0)
while True:
    worker.run_once()
"""


def scalar(database, sql: str, *params):
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        value = cur.fetchone()[0]
        conn.rollback()
    return value


def execute(database, sql: str, *params) -> None:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        conn.commit()


def test_a_worker_killed_mid_run_pays_every_worker_once(clean_database, settings, database_url):
    db = clean_database
    box, pin_hash = registration_secrets(settings)
    employer = register(db, box, pin_hash, phone=phone_of(1), name="Jua Kali Builders")
    execute(db, "UPDATE users SET kyc_tier = 3 WHERE id = %s", employer)  # a business
    for part in ("a", "b"):  # KES 1.2 million, within the cash-in maximum each
        fund(db, phone_of(1), 60_000_000, reference=f"payroll-{part}")
    employers.become_employer(UnitOfWork(db), employer)

    def hire(n: int) -> None:
        register(db, box, pin_hash, phone=phone_of(n), name="Fundi Mjenzi")
        employers.add_worker(
            UnitOfWork(db),
            employer_user_id=employer,
            phone=phone_of(n),
            display_name=f"Fundi {n}",
            gross_pay=DAY_WAGE,
            frequency="daily",
            deductions=["nssf", "shif", "ahl"],
        )

    with ThreadPoolExecutor(HIRING_THREADS) as pool:
        list(pool.map(hire, range(2, WORKERS + 2)))  # list(): a failed hire fails the test
    run = pay_runs.create_pay_run(
        UnitOfWork(db),
        employer_user_id=employer,
        pay_date=date(2025, 11, 28),
        idempotency_key="november",
    ).run
    held = pay_runs.approve_pay_run(UnitOfWork(db), employer_user_id=employer, run_id=run.id)
    assert len(held.lines) == WORKERS
    after_hold = scalar(db, "SELECT balance FROM ledger_accounts WHERE user_id = %s", employer)

    payer = subprocess.Popen(
        [sys.executable, "-c", PAYER, database_url, str(LEASE_S)], cwd=BACKEND_DIR
    )
    try:
        deadline = time.monotonic() + 120
        while scalar(db, "SELECT count(*) FROM pay_run_lines WHERE status = 'paid'") < 300:
            assert payer.poll() is None, "the paying process ended by itself"
            assert time.monotonic() < deadline, "the paying process paid too slowly"
            time.sleep(0.05)
    finally:
        payer.send_signal(signal.SIGKILL)
        payer.wait(timeout=30)
    paid_at_kill = scalar(db, "SELECT count(*) FROM pay_run_lines WHERE status = 'paid'")
    assert paid_at_kill < WORKERS, "the kill came too late to be mid-run"

    time.sleep(LEASE_S + 0.2)  # the dead worker's lease runs out
    rescuer = OutboxWorker(
        db,
        HandlerRegistry(WageLineHandler()),
        lease_s=LEASE_S,
        batch_size=100_000,
        backoff=lambda attempt: 0.0,
    )
    while rescuer.run_once():
        pass

    shown = pay_runs.show_pay_run(UnitOfWork(db), employer, run.id)
    assert shown.run.status == "completed"
    assert {line.status for line in shown.lines} == {"paid"}
    assert scalar(db, "SELECT count(*) FROM journal_transactions WHERE kind = 'wage_payment'") == (
        WORKERS
    )
    net = shown.lines[0].net
    assert (
        scalar(
            db,
            "SELECT count(*) FROM ledger_accounts a JOIN users u ON u.id = a.user_id"
            " WHERE u.id <> %s AND a.balance = %s",
            employer,
            net,
        )
        == WORKERS
    )  # every worker holds one day's net pay: paid once, none twice
    assert (
        scalar(
            db, "SELECT balance FROM ledger_accounts WHERE code = %s", f"wage_hold:{employer % 16}"
        )
        == 0
    )
    assert (
        scalar(db, "SELECT balance FROM ledger_accounts WHERE user_id = %s", employer) == after_hold
    )
    dues = scalar(db, "SELECT sum(balance) FROM ledger_accounts WHERE kind = 'wage_dues'")
    assert dues + WORKERS * net == run.total_cost  # the hold was exact
    assert (
        scalar(db, "SELECT count(*) FROM outbox WHERE payload->>'template' = 'payslip'") == WORKERS
    )
    assert check_ledger(db) == LedgerCheck(0, 0, 0, 0, 0)
