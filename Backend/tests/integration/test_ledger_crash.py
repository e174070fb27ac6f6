"""A process or connection that dies mid-movement loses nothing and duplicates nothing.

Each movement runs in a real OS process (python -c, PayTrace's own services, real
PostgreSQL). To stop it at a known point, the test holds what the movement's last
write must wait for. A transfer (one call of `ledger_transfer`, migration 0037)
writes the sender's outflow last: the test holds an uncommitted outflow row of the
same account and day, so the upsert waits on it. A reversal's one statement writes
everything and PostgreSQL checks its foreign keys at its end: the test holds the
original journal transaction's row. Either way the process is paused with the
journal transaction, its legs and the SMS written and only COMMIT missing. The test
then kills it, or cuts its connection, and retries with the same idempotency key.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
import pytest

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.money import nairobi_day
from app.services import adjustments, transfers
from app.services.ledger import Movement
from app.services.transfers import TransferRequest
from tests.support.wallets import (
    LedgerCheck,
    LedgerSnapshot,
    check_ledger,
    fund,
    ledger_snapshot,
    phone_of,
    register,
    registration_secrets,
)

BACKEND_DIR = Path(__file__).resolve().parents[2]
ALICE, BOB = phone_of(1), phone_of(2)
CLEAN = LedgerCheck(0, 0, 0, 0, 0)

# One movement through PayTrace's services, in its own process. argv: dsn, then
# "transfer" sender phone amount key | "cash_in" phone amount reference |
# "reverse" transaction_id; then "die-before-answering" to be killed by the OS
# right after the service returned, before the answer is printed.
MOVER = """
import os, signal, sys
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.services import adjustments, transfers

dsn, kind, *args = sys.argv[1:]
die = args[-1] == "die-before-answering"
# A long statement timeout: the test, not the timeout, decides when this process ends.
uow = UnitOfWork(Database(dsn, statement_timeout_ms=60_000))
try:
    if kind == "transfer":
        request = transfers.TransferRequest(
            sender_user_id=int(args[0]), recipient_phone=args[1], amount=int(args[2]),
            idempotency_key=args[3])
        moved = transfers.transfer(uow, request)
    elif kind == "cash_in":
        moved = adjustments.cash_in(uow, phone=args[0], amount=int(args[1]), reference=args[2])
    else:
        moved = adjustments.reverse(uow, transaction_id=int(args[0]))
except Exception as exc:
    print("refused", type(exc).__name__, flush=True)
    sys.exit(0)
if die:
    os.kill(os.getpid(), signal.SIGKILL)
print("moved", moved.transaction_id, moved.reference, flush=True)
"""

# The movement's backend, stopped on the test's lock inside its posting statement.
_PAUSED_SQL = """
    SELECT pid FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = 'paytrace'
      AND wait_event_type = 'Lock' AND query LIKE '%%INSERT INTO journal_transactions%%'
"""
_PAUSED_TRANSFER_SQL = """
    SELECT pid FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = 'paytrace'
      AND wait_event_type = 'Lock' AND query LIKE '%%ledger_transfer(%%'
"""
# A second transfer's backend waiting behind the paused one (on its key).
_QUEUED_TRANSFER_SQL = _PAUSED_TRANSFER_SQL + " AND pid <> %(paused)s"
_SEQUENCES = ("journal_transactions_id_seq", "journal_legs_id_seq", "outbox_id_seq")


class Watcher:
    """The test's own connection: holds the pausing row lock and watches the others."""

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg2.connect(dsn, application_name="paytrace-crash-test")
        self.conn.autocommit = True
        self._holder = psycopg2.connect(dsn, application_name="paytrace-crash-test")

    def hold(self, table: str, row_id: int) -> None:
        """Lock one row until release(): a foreign key to it must wait."""
        with self._holder.cursor() as cur:
            cur.execute(f"SELECT 1 FROM {table} WHERE id = %(id)s FOR UPDATE", {"id": row_id})

    def hold_outflow(self, user_id: int) -> None:
        """Write, uncommitted until release(), the user's wallet's outflow row of today
        (Nairobi): a transfer's upsert of that row must wait."""
        with self._holder.cursor() as cur:
            cur.execute(
                "INSERT INTO account_outflows (account_id, day, amount, movements)"
                " SELECT id, %(day)s, 0, 0 FROM ledger_accounts WHERE user_id = %(user_id)s",
                {"user_id": user_id, "day": nairobi_day(datetime.now(UTC))},
            )
            assert cur.rowcount == 1

    def release(self) -> None:
        self._holder.rollback()

    def wait_for(
        self, sql: str, proc: subprocess.Popen | None = None, params: dict | None = None
    ) -> int:
        """The pid the query finds, polling for up to 20 s."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with self.conn.cursor() as cur:
                cur.execute(sql, params)
                row = cur.fetchone()
            if row:
                return row[0]
            if proc is not None and proc.poll() is not None:
                pytest.fail(f"the mover ended before pausing: {proc.communicate()}")
            time.sleep(0.02)
        pytest.fail("nothing paused where expected")

    def wait_until_gone(self, pid: int) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with self.conn.cursor() as cur:
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %(pid)s", {"pid": pid}
                )
                if cur.fetchone()[0] == 0:
                    return
            time.sleep(0.02)
        pytest.fail(f"backend {pid} outlived its client")

    def issued(self) -> tuple[int, ...]:
        """Ids drawn from the journal, leg and outbox sequences: a sequence is not
        transactional, so this shows rows an uncommitted transaction has written."""
        counts = []
        with self.conn.cursor() as cur:
            for sequence in _SEQUENCES:
                cur.execute(f"SELECT last_value, is_called FROM {sequence}")
                last_value, is_called = cur.fetchone()
                counts.append(last_value if is_called else last_value - 1)
        return tuple(counts)

    def terminate(self, pid: int) -> None:
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%(pid)s)", {"pid": pid})
            assert cur.fetchone()[0]

    def close(self) -> None:
        self._holder.close()
        self.conn.close()


@pytest.fixture
def watcher(clean_database: Database) -> Iterator[Watcher]:
    watcher = Watcher(clean_database.dsn)
    yield watcher
    watcher.close()


@pytest.fixture
def alice_and_bob(clean_database, settings) -> tuple[int, int]:
    box, pin_hash = registration_secrets(settings)
    alice = register(clean_database, box, pin_hash, phone=ALICE, name="Alice Wanjiru")
    bob = register(clean_database, box, pin_hash, phone=BOB, name="Bob Otieno", language="sw")
    fund(clean_database, ALICE, 500_000)
    return alice, bob


def start_mover(dsn: str, *args: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", MOVER, dsn, *map(str, args)],
        cwd=BACKEND_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def send(database: Database, sender: int, to: str, amount: int, key: str) -> Movement:
    request = TransferRequest(
        sender_user_id=sender, recipient_phone=to, amount=amount, idempotency_key=key
    )
    return transfers.transfer(UnitOfWork(database), request)


def assert_transfer_made_once(
    before: LedgerSnapshot, after: LedgerSnapshot, moved: Movement, alice: int, bob: int
) -> None:
    """KES 1,000 + KES 10 fee moved once, and its two SMS queued once."""
    assert (moved.amount, moved.fee) == (100_000, 1_000)
    assert after.balances == before.balances | {alice: 399_000, bob: 100_000, "fees": 1_000}
    assert after.outflows == {alice: 100_000}
    assert after.journal_transactions == before.journal_transactions + 1
    assert after.sms == [
        *before.sms,
        (f"journal:{moved.reference}:{alice}", ALICE, "transfer_sent"),
        (f"journal:{moved.reference}:{bob}", BOB, "transfer_received"),
    ]


def test_a_sender_killed_mid_transfer_loses_nothing_and_the_retry_moves_once(
    clean_database, watcher, alice_and_bob
):
    alice, bob = alice_and_bob
    before, issued = ledger_snapshot(clean_database), watcher.issued()
    watcher.hold_outflow(alice)
    mover = start_mover(clean_database.dsn, "transfer", alice, BOB, 100_000, "ussd:hop-1")
    paused = watcher.wait_for(_PAUSED_TRANSFER_SQL, mover)

    # Paused with its journal transaction, three legs and two SMS written, uncommitted.
    assert tuple(b - a for a, b in zip(issued, watcher.issued(), strict=True)) == (1, 3, 2)
    assert ledger_snapshot(clean_database) == before
    mover.kill()  # SIGKILL: the phone gateway's worker dies, mid-transaction
    assert mover.wait(timeout=10) == -signal.SIGKILL
    watcher.release()
    watcher.wait_until_gone(paused)

    # The transfer is one statement that commits itself (ledger_transfer, migration
    # 0037): once sent, PostgreSQL, not the dead client, decides. It is there whole,
    # with its SMS, or not at all; the retry replays it or makes it, once.
    left = ledger_snapshot(clean_database)
    retried = send(clean_database, alice, BOB, 100_000, "ussd:hop-1")
    assert retried.replayed == (left != before)
    assert_transfer_made_once(before, ledger_snapshot(clean_database), retried, alice, bob)
    if left != before:
        assert left == ledger_snapshot(clean_database)
    again = send(clean_database, alice, BOB, 100_000, "ussd:hop-1")
    assert again.replayed and again.transaction_id == retried.transaction_id
    assert ledger_snapshot(clean_database).journal_transactions == before.journal_transactions + 1
    assert check_ledger(clean_database) == CLEAN


def test_a_retry_waiting_on_a_cut_connection_moves_the_money_once(
    clean_database, watcher, alice_and_bob
):
    alice, bob = alice_and_bob
    before = ledger_snapshot(clean_database)
    watcher.hold_outflow(alice)
    mover = start_mover(clean_database.dsn, "transfer", alice, BOB, 100_000, "ussd:hop-2")
    paused = watcher.wait_for(_PAUSED_TRANSFER_SQL, mover)
    # The gateway gives up on the first attempt and retries; the retry queues behind
    # the first (on its idempotency key).
    retry: list[object] = []
    thread = threading.Thread(
        target=lambda: retry.append(send(clean_database, alice, BOB, 100_000, "ussd:hop-2"))
    )
    thread.start()
    watcher.wait_for(_QUEUED_TRANSFER_SQL, params={"paused": paused})

    watcher.terminate(paused)  # the first attempt's connection is cut
    watcher.release()
    thread.join(timeout=20)

    out, err = mover.communicate(timeout=20)
    assert out.split() == ["refused", "ServiceUnavailable"], err
    assert len(retry) == 1 and not retry[0].replayed
    assert_transfer_made_once(before, ledger_snapshot(clean_database), retry[0], alice, bob)
    assert check_ledger(clean_database) == CLEAN


def test_an_operator_killed_mid_reversal_loses_nothing_and_reverses_once(
    clean_database, watcher, alice_and_bob
):
    alice, bob = alice_and_bob
    sent = send(clean_database, alice, BOB, 100_000, "ussd:hop-3")
    before, issued = ledger_snapshot(clean_database), watcher.issued()
    watcher.hold("journal_transactions", sent.transaction_id)
    mover = start_mover(clean_database.dsn, "reverse", sent.transaction_id)
    paused = watcher.wait_for(_PAUSED_SQL, mover)

    assert tuple(b - a for a, b in zip(issued, watcher.issued(), strict=True)) == (1, 3, 2)
    mover.kill()
    mover.wait(timeout=10)
    watcher.release()
    watcher.wait_until_gone(paused)

    assert ledger_snapshot(clean_database) == before
    undone = adjustments.reverse(UnitOfWork(clean_database), transaction_id=sent.transaction_id)
    again = adjustments.reverse(UnitOfWork(clean_database), transaction_id=sent.transaction_id)
    assert not undone.replayed and again.replayed
    assert again.transaction_id == undone.transaction_id
    after = ledger_snapshot(clean_database)
    assert after.balances == before.balances | {alice: 500_000, bob: 0, "fees": 0}
    assert after.journal_transactions == before.journal_transactions + 1
    assert after.sms == [
        *before.sms,
        (f"journal:{undone.reference}:{alice}", ALICE, "reversal"),
        (f"journal:{undone.reference}:{bob}", BOB, "reversal"),
    ]
    assert check_ledger(clean_database) == CLEAN


def test_a_sender_killed_after_commit_gets_the_same_transfer_back_on_retry(
    clean_database, alice_and_bob
):
    alice, bob = alice_and_bob
    before = ledger_snapshot(clean_database)
    mover = start_mover(
        clean_database.dsn, "transfer", alice, BOB, 100_000, "ussd:hop-4", "die-before-answering"
    )
    out, _ = mover.communicate(timeout=60)
    assert (mover.returncode, out) == (-signal.SIGKILL, "")  # no answer ever came back

    retried = send(clean_database, alice, BOB, 100_000, "ussd:hop-4")

    assert retried.replayed
    assert retried.balances == {alice: 399_000, bob: 100_000}
    assert_transfer_made_once(before, ledger_snapshot(clean_database), retried, alice, bob)
    assert check_ledger(clean_database) == CLEAN


def test_an_agent_killed_after_commit_gets_the_same_cash_in_back_on_retry(
    clean_database, alice_and_bob
):
    _, bob = alice_and_bob
    before = ledger_snapshot(clean_database)
    mover = start_mover(
        clean_database.dsn, "cash_in", BOB, 25_000, "QK7RT2X9LM", "die-before-answering"
    )
    out, _ = mover.communicate(timeout=60)
    assert (mover.returncode, out) == (-signal.SIGKILL, "")

    retried = adjustments.cash_in(
        UnitOfWork(clean_database), phone=BOB, amount=25_000, reference="QK7RT2X9LM"
    )

    assert retried.replayed and retried.balances == {bob: 25_000}
    after = ledger_snapshot(clean_database)
    assert after.balances == before.balances | {bob: 25_000, "mpesa_float": -525_000}
    assert after.sms == [*before.sms, (f"journal:{retried.reference}:{bob}", BOB, "cash_in")]
    assert check_ledger(clean_database) == CLEAN
