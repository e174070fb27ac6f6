"""PayTrace behind a real PgBouncer in transaction mode (docs/operations.md): every
transaction may run on another server connection, so nothing may rest on a session.
Migrations, the statement timeout, money movements, the outbox worker and the worker
leases all go through it here, with fewer server connections than clients."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest

from app.db import leases
from app.db.leases import Lease
from app.db.migrate import apply_migrations, migration_files
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.errors import ServiceUnavailable
from app.integrations.sms import FakeSms
from app.services import transfers
from app.services.notifications import queue_sms
from app.services.transfers import TransferRequest
from app.worker.handlers import HandlerRegistry, SmsHandler
from app.worker.outbox import OutboxWorker
from tests.conftest import drop_database_later, make_database, truncate_all
from tests.support.pgbouncer import pgbouncer
from tests.support.wallets import (
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)


@pytest.fixture
def bounced(database_url, tmp_path):
    """The run's database through PgBouncer: two server connections for every client."""
    with pgbouncer(database_url, tmp_path / "pgbouncer", pool_size=2) as dsn:
        yield dsn


@pytest.fixture
def through(bounced, clean_database):
    database = Database(bounced, max_connections=12, statement_timeout_ms=2_000)
    yield database
    database.close()


def test_a_startup_options_parameter_is_refused_by_pgbouncer(bounced):
    """Why PayTrace sets its timeout per transaction: PgBouncer refuses `options`."""
    with pytest.raises(psycopg2.OperationalError, match="options"):
        psycopg2.connect(bounced, options="-c statement_timeout=5000").close()


def test_migrations_apply_through_pgbouncer_once_even_when_two_processes_start(
    pg_admin_url, tmp_path
):
    name = f"paytrace_bouncer_{tmp_path.name[-12:].lower().replace('-', '_')}"
    dsn = make_database(pg_admin_url, name)
    try:
        with pgbouncer(dsn, tmp_path / "pgb", pool_size=2) as via:
            with ThreadPoolExecutor(2) as pool:
                runs = list(pool.map(lambda _: apply_migrations(via), range(2)))
            assert apply_migrations(via) == []
        applied = Counter(name for run in runs for name in run)
        assert applied == Counter(path.name for path in migration_files())
    finally:
        drop_database_later(pg_admin_url, name)


def test_the_statement_timeout_holds_in_every_transaction(through):
    with through.connection() as conn, conn.cursor() as cur:
        for _ in range(3):  # each transaction may land on another server connection
            cur.execute("SHOW statement_timeout")
            assert cur.fetchone() == ("2s",)
            conn.commit()
        with pytest.raises(psycopg2.errors.QueryCanceled):
            cur.execute("SELECT pg_sleep(5)")
        conn.rollback()


def test_money_moves_exactly_through_pgbouncer_with_more_clients_than_connections(
    through, clean_database, settings
):
    box, pin_hash = registration_secrets(settings)
    users = [register(through, box, pin_hash, phone=phone_of(n)) for n in range(4)]
    for n in range(4):
        fund(through, phone_of(n), 10_000)

    def send(i: int):
        request = TransferRequest(users[i % 4], phone_of((i + 1) % 4), 100, f"bounce-{i}")
        return transfers.transfer(UnitOfWork(through), request)

    with ThreadPoolExecutor(10) as pool:
        moved = list(pool.map(send, list(range(40)) * 2))  # each twice: a retry races it

    assert sum(not m.replayed for m in moved) == 40
    assert sum(wallet_balance(clean_database, u) for u in users) == 4 * 10_000
    assert check_ledger(clean_database).sound


def test_two_outbox_workers_through_pgbouncer_send_each_message_once(through, clean_database):
    numbers = [f"+2547110{i:05d}" for i in range(30)]
    for number in numbers:
        with UnitOfWork(through) as uow:
            queue_sms(uow, to=number, template="pin_changed", language="en",
                      dedupe_key=f"bounce:{number}")  # fmt: skip
            uow.commit()
    fake = FakeSms()
    start = threading.Barrier(2)

    def work() -> None:
        worker = OutboxWorker(through, HandlerRegistry(SmsHandler(fake)), backoff=lambda _a: 0.0)
        start.wait()
        while worker.run_once(limit=3):
            pass

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert Counter(number for number, _ in fake.calls) == Counter(numbers)


def test_a_worker_lease_holds_through_pgbouncer(through, clean_database):
    holders = [Lease(through, leases.SETTLEMENT) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda lease: lease.held(), holders))
    assert answers.count(True) == 1
    winner = holders[answers.index(True)]
    # Many transactions later, on whichever server connections: still only the winner.
    for _ in range(5):
        assert winner.held() is True
        assert [h.held() for h in holders if h is not winner] == [False] * 5
    winner.release()
    assert sum(h.held() for h in holders if h is not winner) == 1


def test_pgbouncer_gone_is_service_unavailable_not_a_hang(bounced, tmp_path, clean_database):
    database = Database(bounced, max_connections=2, connect_timeout_s=1)
    database.ping()
    database.close()
    truncate_all(clean_database)
    with pgbouncer(clean_database.dsn, tmp_path / "gone") as short_lived:
        gone = Database(short_lived, max_connections=1, connect_timeout_s=1)
    with pytest.raises(ServiceUnavailable):
        gone.ping()
