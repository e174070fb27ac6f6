"""The ledger under concurrency: many threads at once on real PostgreSQL.

Threads are released together by a barrier, each on its own connection from a
pool big enough for all of them. Whatever the interleaving: no overdraft, no
double spend, one movement per idempotency key, no deadlock, every cent accounted
for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from psycopg2.errors import DeadlockDetected

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.errors import IdempotencyConflict, InsufficientFunds
from app.services import adjustments, lock_order, transfers
from app.services.ledger import Movement
from app.services.lock_order import Owner
from app.services.transfers import TransferRequest
from tests.support.wallets import (
    LedgerCheck,
    check_ledger,
    fund,
    ledger_snapshot,
    phone_of,
    register,
    registration_secrets,
)

CLEAN = LedgerCheck(0, 0, 0, 0, 0)
# Seeded transfer fees (0002_ledger.sql) for the amounts these tests send.
FEE = {5_000: 0, 10_000: 0, 20_000: 500, 30_000: 500, 80_000: 1_000, 150_000: 2_500}


@pytest.fixture
def sign_up(clean_database, settings) -> Callable[[int], list[int]]:
    """Register users 1..n (phone_of(i)); returns their ids in that order."""
    box, pin_hash = registration_secrets(settings)

    def sign_up(count: int) -> list[int]:
        return [
            register(clean_database, box, pin_hash, phone=phone_of(n)) for n in range(1, count + 1)
        ]

    return sign_up


def run_together(calls: list[Callable[[], object]]) -> list[object]:
    """Run every call on its own thread, all released at once; each result or exception."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = calls[index]()
        except Exception as exc:  # the outcome under test
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a movement hung"
    return outcomes


def send(database: Database, sender: int, to: str, amount: int, key: str):
    request = TransferRequest(
        sender_user_id=sender, recipient_phone=to, amount=amount, idempotency_key=key
    )
    return lambda: transfers.transfer(UnitOfWork(database), request)


def reverse(database: Database, transaction_id: int):
    return lambda: adjustments.reverse(UnitOfWork(database), transaction_id=transaction_id)


def cash_in(database: Database, phone: str, amount: int, reference: str):
    return lambda: adjustments.cash_in(
        UnitOfWork(database), phone=phone, amount=amount, reference=reference
    )


def errors_of(outcomes: list[object]) -> list[str]:
    # A driver error (a deadlock) reaches the caller as ServiceUnavailable caused by it.
    return [repr(o.__cause__ or o) for o in outcomes if isinstance(o, Exception)]


def templates(database: Database) -> list[str]:
    return [template for _, _, template in ledger_snapshot(database).sms]


@pytest.mark.parametrize(
    ("amount", "balance"),
    [(10_000, 325_000), (20_000, 500_000)],
    ids=["fee-free", "with-fee"],
)
def test_64_concurrent_spends_from_one_wallet_never_overdraw(
    clean_database, crowd, sign_up, amount, balance
):
    spender, *recipients = sign_up(5)
    fund(clean_database, phone_of(1), balance)
    needed = amount + FEE[amount]
    calls = [send(crowd, spender, phone_of(2 + i % 4), amount, f"spend-{i}") for i in range(64)]

    outcomes = run_together(calls)

    moved = [o for o in outcomes if isinstance(o, Movement)]
    refused = [o for o in outcomes if not isinstance(o, Movement)]
    succeed, left = divmod(balance, needed)
    assert len(moved) == succeed and 0 < succeed < 64
    assert {type(o) for o in refused} == {InsufficientFunds}, errors_of(refused)[:3]
    # A refusal only ever comes once the balance is below one more spend.
    assert {(o.balance, o.needed) for o in refused} == {(left, needed)}
    # Every success saw the balance the one before it left: no lost update.
    after = sorted(m.balances[spender] for m in moved)
    assert after == [left + i * needed for i in range(succeed)]
    found = ledger_snapshot(clean_database)
    assert found.balances[spender] == left
    assert sum(found.balances[r] for r in recipients) == succeed * amount
    assert found.balances["fees"] == succeed * FEE[amount]
    assert found.outflows == {spender: succeed * amount}
    assert found.journal_transactions == 1 + succeed
    assert check_ledger(clean_database) == CLEAN


def test_20_concurrent_retries_of_one_transfer_move_the_money_once(clean_database, crowd, sign_up):
    alice, bob = sign_up(2)
    fund(clean_database, phone_of(1), 100_000)

    outcomes = run_together([send(crowd, alice, phone_of(2), 30_000, "hop-9")] * 20)

    assert errors_of(outcomes) == []
    assert len({(o.transaction_id, o.reference, o.created_at) for o in outcomes}) == 1
    assert sorted(o.replayed for o in outcomes) == [False] + [True] * 19
    assert {tuple(sorted(o.balances.items())) for o in outcomes} == {
        ((alice, 69_500), (bob, 30_000))
    }
    found = ledger_snapshot(clean_database)
    assert (found.balances[alice], found.balances[bob], found.balances["fees"]) == (
        69_500,
        30_000,
        500,
    )
    assert found.journal_transactions == 2
    assert templates(clean_database).count("transfer_sent") == 1
    assert templates(clean_database).count("transfer_received") == 1
    assert check_ledger(clean_database) == CLEAN


def test_20_concurrent_retries_of_one_cash_in_credit_once(clean_database, crowd, sign_up):
    (alice,) = sign_up(1)

    outcomes = run_together([cash_in(crowd, phone_of(1), 75_000, "AGENT-42")] * 20)

    assert errors_of(outcomes) == []
    assert len({(o.transaction_id, o.reference) for o in outcomes}) == 1
    assert sorted(o.replayed for o in outcomes) == [False] + [True] * 19
    found = ledger_snapshot(clean_database)
    assert (found.balances[alice], found.balances["mpesa_float"]) == (75_000, -75_000)
    assert found.journal_transactions == 1
    assert templates(clean_database).count("cash_in") == 1


def test_20_different_requests_racing_for_one_key_one_wins(clean_database, crowd, sign_up):
    alice, bob = sign_up(2)
    fund(clean_database, phone_of(1), 100_000)
    calls = [send(crowd, alice, phone_of(2), 1_000 + i, "hop-7") for i in range(20)]

    outcomes = run_together(calls)

    winners = [o for o in outcomes if isinstance(o, Movement)]
    assert len(winners) == 1 and not winners[0].replayed
    assert [type(o) for o in outcomes if o not in winners] == [IdempotencyConflict] * 19
    sent = winners[0].amount
    assert sent == 1_000 + outcomes.index(winners[0])
    found = ledger_snapshot(clean_database)
    assert (found.balances[alice], found.balances[bob]) == (100_000 - sent, sent)
    assert found.journal_transactions == 2


# The lowest-id wallet marked locked last (migration 0058) turns the lock order around
# for every movement that touches it: transfers (ledger_transfer), reversals and
# cash-ins (LedgerRepository.accounts) must all agree on it.
MARKS = pytest.mark.parametrize("marked", [False, True], ids=["id order", "first locked last"])


@MARKS
def test_transfers_both_ways_and_in_rings_never_deadlock(clean_database, crowd, sign_up, marked):
    people = sign_up(3)
    for n in (1, 2, 3):
        fund(clean_database, phone_of(n), 1_000_000)
    if marked:
        lock_order.mark_locked_last(UnitOfWork(clean_database), Owner(phone_of(1)), True)
    pairs = [(a, b) for a in range(3) for b in range(3) if a != b]  # A->B, B->A, ..., rings
    # Earlier fee-free transfers to reverse meanwhile: a reversal locks only two
    # wallets, a cash-in the float and one wallet, a transfer the fees account and
    # two wallets; each in the lock order, or threads would wait on each other forever.
    earlier = [
        send(clean_database, people[a], phone_of(b + 1), 10_000, f"earlier-{a}{b}{i}")()
        for a, b in pairs
        for i in range(2)
    ]
    calls = [
        send(crowd, people[a], phone_of(b + 1), 10_000, f"now-{a}{b}{i}")
        for i in range(8)
        for a, b in pairs
    ]
    calls += [reverse(crowd, moved.transaction_id) for moved in earlier]
    calls += [cash_in(crowd, phone_of(n % 3 + 1), 50_000, f"AGENT-{n}") for n in range(6)]

    outcomes = run_together(calls)

    causes = [o.__cause__ for o in outcomes if isinstance(o, Exception)]
    assert [c for c in causes if isinstance(c, DeadlockDetected)] == []
    assert errors_of(outcomes) == []
    assert len(outcomes) == 66 and all(isinstance(o, Movement) for o in outcomes)
    found = ledger_snapshot(clean_database)
    # Each sent as much as it received, the reversals undid the earlier round trips,
    # and each wallet got two cash-ins of KES 500.
    assert [found.balances[p] for p in people] == [1_100_000] * 3
    assert (found.balances["fees"], found.balances["mpesa_float"]) == (0, -3_300_000)
    assert found.journal_transactions == 3 + 12 + 66
    assert check_ledger(clean_database) == CLEAN


@MARKS
def test_many_senders_to_one_hot_recipient_add_up_exactly(clean_database, crowd, sign_up, marked):
    shop, *senders = sign_up(33)
    if marked:  # the shop, the lowest id: locked first in id order, last when marked
        lock_order.mark_locked_last(UnitOfWork(clean_database), Owner(phone_of(1)), True)
    amounts = [5_000, 30_000, 80_000, 150_000]  # one per fee band
    expected_received = 0
    calls = []
    for i, sender in enumerate(senders):
        amount = amounts[i % 4]
        needed = amount + FEE[amount]
        # Even senders can afford both of their sends, odd ones one cent too little.
        fund(clean_database, phone_of(i + 2), 2 * needed - (i % 2))
        expected_received += (2 - i % 2) * amount
        calls += [send(crowd, sender, phone_of(1), amount, f"pay-{i}-{n}") for n in range(2)]

    outcomes = run_together(calls)

    moved = [o for o in outcomes if isinstance(o, Movement)]
    assert len(moved) == 48
    assert {type(o) for o in outcomes if o not in moved} == {InsufficientFunds}
    found = ledger_snapshot(clean_database)
    assert found.balances[shop] == expected_received == sum(m.amount for m in moved)
    assert found.balances["fees"] == sum(m.fee for m in moved)
    for i, sender in enumerate(senders):
        amount = amounts[i % 4]
        assert found.balances[sender] == (0 if i % 2 == 0 else amount + FEE[amount] - 1)
    assert check_ledger(clean_database) == CLEAN


def test_20_concurrent_reversals_of_one_transfer_reverse_it_once(clean_database, crowd, sign_up):
    alice, bob = sign_up(2)
    fund(clean_database, phone_of(1), 500_000)
    sent = send(clean_database, alice, phone_of(2), 100_000, "hop-1")()

    outcomes = run_together([reverse(crowd, sent.transaction_id)] * 20)

    assert errors_of(outcomes) == []
    assert len({o.transaction_id for o in outcomes}) == 1
    assert sorted(o.replayed for o in outcomes) == [False] + [True] * 19
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM journal_transactions WHERE reverses_id = %(id)s",
            {"id": sent.transaction_id},
        )
        assert cur.fetchone()[0] == 1
        conn.rollback()
    found = ledger_snapshot(clean_database)
    assert (found.balances[alice], found.balances[bob], found.balances["fees"]) == (500_000, 0, 0)
    assert templates(clean_database).count("reversal") == 2
    assert check_ledger(clean_database) == CLEAN


def test_a_reversal_racing_the_recipients_spend_never_lets_both_through(
    clean_database, crowd, sign_up
):
    # Eight receivers each got KES 1,000; each, at the same moment, spends KES 900
    # (+ KES 10 fee) while an operator reverses what they got: only one can win.
    shop, *people = sign_up(17)
    senders, receivers = people[:8], people[8:]
    received = []
    for i, sender in enumerate(senders):
        fund(clean_database, phone_of(i + 2), 101_000)
        received.append(send(clean_database, sender, phone_of(i + 10), 100_000, f"gift-{i}")())
    calls = []
    for i, receiver in enumerate(receivers):
        calls.append(reverse(crowd, received[i].transaction_id))
        calls.append(send(crowd, receiver, phone_of(1), 90_000, f"spend-{i}"))

    outcomes = run_together(calls)

    found = ledger_snapshot(clean_database)
    reversals_won = 0
    for i, receiver in enumerate(receivers):
        undone, spent = outcomes[2 * i], outcomes[2 * i + 1]
        reversed_first = isinstance(undone, Movement)
        assert isinstance(spent, Movement) != reversed_first, (undone, spent)
        assert type(spent if reversed_first else undone) is InsufficientFunds
        reversals_won += reversed_first
        assert found.balances[receiver] == (0 if reversed_first else 9_000)
    assert found.balances[shop] == (8 - reversals_won) * 90_000
    assert check_ledger(clean_database) == CLEAN
