"""The credited account's lock, last (migration 0054): a movement onto a hot account
takes that account's lock after its checks and the rows that need only the payer's
lock, when the credited account's id is the highest of the movement's (still in id
order). Observed from PostgreSQL itself: while the credited account is held by
another session, the waiting movement has already written its journal row (it holds
journal_transactions' RowExclusiveLock) or, when the credited id is lower, has not.

And what must not weaken: a campaign that ends while a contribution waits for the
escrow refuses it, with nothing of it written."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg2
import pytest

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.services import transfers
from app.services.harambee.common import CampaignNotOpen
from app.services.harambee.contributions import ContributionRequest, contribute
from app.services.transfers import TransferRequest
from tests.integration.test_harambee_concurrency import escrow_paid_by, open_campaign
from tests.support.wallets import (
    check_ledger,
    fund,
    ledger_snapshot,
    phone_of,
    register,
    registration_secrets,
)

KES = 100


@pytest.fixture
def two(clean_database, settings) -> tuple[int, int]:
    """Two funded users; the second's wallet has the higher id."""
    box, pin_hash = registration_secrets(settings)
    ids = []
    for n in (1, 2):
        ids.append(register(clean_database, box, pin_hash, phone=phone_of(n)))
        fund(clean_database, phone_of(n), 10_000 * KES)
    return ids[0], ids[1]


def account_of(database: Database, user_id: int) -> int:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM ledger_accounts WHERE user_id = %s", (user_id,))
        return cur.fetchone()[0]


@contextmanager
def held(database: Database, account_id: int) -> Iterator[psycopg2.extensions.connection]:
    """Another session holding one account's row lock (as a movement onto it would)
    until the block ends; its connection, for more work in that transaction."""
    conn = psycopg2.connect(database.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT 1 FROM ledger_accounts WHERE id = %s FOR NO KEY UPDATE", (account_id,)
            )
        yield conn
        conn.commit()
    finally:
        conn.close()


def in_thread(call: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    result: list[object] = []

    def run() -> None:
        try:
            result.append(call())
        except Exception as exc:  # the outcome under test
            result.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def waiting_backend(database: Database, function: str) -> int:
    """The pid of the backend running `function` once it waits on a lock."""
    deadline = time.monotonic() + 30
    with database.connection() as conn, conn.cursor() as cur:
        while True:
            cur.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
                (f"%{function}(%",),
            )
            found = cur.fetchone()
            conn.rollback()
            if found:
                return found[0]
            assert time.monotonic() < deadline, f"{function} never waited on a lock"
            time.sleep(0.02)


def has_written_journal(database: Database, pid: int) -> bool:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT 1 FROM pg_locks WHERE pid = %s AND granted"
            " AND mode = 'RowExclusiveLock' AND relation = 'journal_transactions'::regclass",
            (pid,),
        )
        return cur.fetchone() is not None


def send(database: Database, sender: int, to: int, key: str) -> Callable[[], object]:
    request = TransferRequest(sender, phone_of(to), 100 * KES, key)
    return lambda: transfers.transfer(UnitOfWork(database), request)


def test_a_transfer_to_the_higher_id_writes_its_journal_before_the_recipients_lock(
    clean_database, two
):
    low, high = two
    with held(clean_database, account_of(clean_database, high)):
        thread, result = in_thread(send(clean_database, low, 2, "late"))
        pid = waiting_backend(clean_database, "ledger_transfer")
        assert has_written_journal(clean_database, pid)
    thread.join(timeout=30)

    assert result and not isinstance(result[0], Exception), result
    assert check_ledger(clean_database).sound


def test_a_transfer_to_the_lower_id_takes_every_lock_first(clean_database, two):
    low, high = two
    with held(clean_database, account_of(clean_database, low)):
        thread, result = in_thread(send(clean_database, high, 1, "first"))
        pid = waiting_backend(clean_database, "ledger_transfer")
        assert not has_written_journal(clean_database, pid)
    thread.join(timeout=30)

    assert result and not isinstance(result[0], Exception), result
    assert check_ledger(clean_database).sound


def test_a_contribution_waits_for_the_escrow_last_and_is_refused_if_it_ended_meanwhile(
    clean_database, two
):
    organiser, giver = two
    campaign_id = open_campaign(clean_database, organiser, target=50_000 * KES)
    escrow = escrow_paid_by(clean_database, campaign_id, giver)
    assert escrow > account_of(clean_database, giver)  # the escrow's lock comes last
    before = ledger_snapshot(clean_database)
    request = ContributionRequest(giver, campaign_id, 300 * KES, "meanwhile")

    with held(clean_database, escrow) as closer:
        thread, result = in_thread(lambda: contribute(UnitOfWork(clean_database), request))
        pid = waiting_backend(clean_database, "ledger_contribute")
        assert has_written_journal(clean_database, pid)  # written under the wallet's lock
        with closer.cursor() as cur:  # ended under the escrow's lock, as closing does
            cur.execute(
                "UPDATE campaigns SET status = 'cancelled', ended_at = now() WHERE id = %s",
                (campaign_id,),
            )
    thread.join(timeout=30)

    assert len(result) == 1 and isinstance(result[0], CampaignNotOpen), result
    assert str(result[0]) == "the campaign is cancelled"
    assert ledger_snapshot(clean_database) == before  # no row, leg, outflow or SMS
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM campaign_contributions")
        assert cur.fetchone() == (0,)
    assert check_ledger(clean_database).sound
