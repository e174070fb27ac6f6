"""ledger_transfer (migration 0037): a transfer checked and posted in one statement.

The one-statement path is held to the statement-by-statement one it replaced
(tests/support/reference_transfer.py): the same requests leave the same books and
meet the same refusals. The function itself refuses what the service would, and
its SQL rendering of amounts is format_kes's.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, nairobi_day
from app.errors import PayTraceError
from app.infra.request_context import request_scope
from app.services import transfers
from app.services.transfers import TransferRequest
from tests.conftest import _truncate_all
from tests.integration.test_ledger_concurrency import run_together, send
from tests.support.reference_transfer import transfer_by_statements
from tests.support.wallets import (
    LedgerCheck,
    check_ledger,
    fund,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

NOW = datetime(2026, 11, 22, 11, 5, tzinfo=UTC)
ALICE, BOB, CAROL, NOBODY = phone_of(1), phone_of(2), phone_of(3), phone_of(9)


def test_ledger_format_kes_writes_every_amount_as_format_kes_does(clean_database):
    rng = random.Random(18)
    amounts = [0, 1, 9, 10, 99, 100, 101, 1_000, 99_999, 100_000, 123_456_789, 10**17 + 7]
    amounts += [rng.randrange(0, 10 ** rng.randrange(1, 18)) for _ in range(300)]
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT a, ledger_format_kes(a) FROM unnest(%s::bigint[]) AS a", (amounts,))
        rendered = dict(cur.fetchall())
        conn.rollback()
    assert {a: format_kes(a) for a in amounts} == rendered


def _scenario(database: Database, settings, post) -> tuple[list, dict]:
    """Register three users, fund one, run the same requests through `post`; returns
    each request's outcome and the books they left."""
    box, pin_hash = registration_secrets(settings)
    alice = register(database, box, pin_hash, phone=ALICE, name="Alice Wanjiru")
    bob = register(database, box, pin_hash, phone=BOB, name="Bob Otieno", language="sw")
    carol = register(database, box, pin_hash, phone=CAROL, name="Carol Njeri")
    fund(database, ALICE, 2_000_000)
    with UnitOfWork(database) as uow:
        per_transaction = uow.ledger.tier_limits(alice).per_transaction

    def request(sender: int, to: str, amount: int, key: str, note: str | None = None):
        return TransferRequest(sender, to, amount, key, note=note)

    requests = [
        request(alice, BOB, 100_000, "k1", note="rent"),  # fee-bearing
        request(alice, BOB, 100_000, "k1", note="rent"),  # replay
        request(alice, BOB, 5_000, "k1"),  # same key, other request
        request(alice, CAROL, 5_000, "k2"),  # fee-free
        request(alice, ALICE, 5_000, "k3"),  # to self
        request(alice, NOBODY, 5_000, "k4"),  # not registered
        request(bob, ALICE, 100_001, "k5"),  # more than Bob has
        request(alice, BOB, per_transaction + 1, "k6"),  # above the tier's limit
        request(carol, BOB, 5_000, "k7"),  # Carol's whole balance, no fee
        request(carol, ALICE, 100, "k8"),  # Carol has nothing left
        request(bob, CAROL, 100_000, "k9"),  # Bob's whole balance; no room for the fee
        request(bob, CAROL, 99_000, "k10"),  # Bob: amount and fee, to the cent
    ]
    outcomes = []
    for each in requests:
        try:
            moved = post(UnitOfWork(database), each, now=NOW)
            outcomes.append(
                (
                    "moved",
                    moved.kind,
                    moved.amount,
                    moved.fee,
                    moved.created_at,
                    moved.balances,
                    moved.replayed,
                )
            )
        except PayTraceError as exc:
            outcomes.append(
                ("refused", type(exc).__name__, exc.code, str(exc), sorted(vars(exc).items()))
            )
    return outcomes, _books(database)


def _books(database: Database) -> dict:
    """Everything a transfer writes, with ids and references replaced by their order
    (the funding's rows, stamped with the moment the test ran, left out)."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT id, reference FROM journal_transactions ORDER BY id")
        order = {tx_id: n for n, (tx_id, _) in enumerate(cur.fetchall())}
        cur.execute("SELECT reference FROM journal_transactions ORDER BY id")
        references = [row[0] for row in cur.fetchall()]

        def plain(value: object) -> object:
            text = str(value)
            for n, reference in enumerate(references):
                text = text.replace(reference, f"<ref {n}>")
            return text

        books: dict[str, list] = {}
        cur.execute(
            "SELECT id, kind, amount, fee, idempotency_key, request_hash, reverses_id, channel,"
            " initiator_user_id, note, created_at FROM journal_transactions ORDER BY id"
        )
        books["journal"] = [(order[row[0]], *row[1:]) for row in cur if row[1] == "transfer"]
        cur.execute(
            "SELECT transaction_id, account_id, amount, balance_after FROM journal_legs ORDER BY id"
        )
        books["legs"] = [(order[row[0]], *row[1:]) for row in cur.fetchall()]
        cur.execute(
            "SELECT transaction_id, status, payers, parties, origin, tx_hash, settled_at"
            " FROM stellar_settlements ORDER BY transaction_id"
        )
        books["settlements"] = [(order[row[0]], *row[1:]) for row in cur.fetchall()]
        cur.execute("SELECT * FROM account_outflows ORDER BY account_id, day")
        books["outflows"] = cur.fetchall()
        cur.execute(
            "SELECT kind, payload, dedupe_key, status FROM outbox"
            " WHERE payload->>'template' LIKE 'transfer%%' ORDER BY id"
        )
        books["outbox"] = [
            (kind, plain(sorted(payload.items())), plain(key), status)
            for kind, payload, key, status in cur.fetchall()
        ]
        cur.execute("SELECT id, kind, code, user_id, balance FROM ledger_accounts ORDER BY id")
        books["accounts"] = cur.fetchall()
        conn.rollback()
    return books


def test_the_one_statement_transfer_leaves_the_books_the_statements_did(clean_database, settings):
    by_statements = _scenario(clean_database, settings, transfer_by_statements)
    _truncate_all(clean_database)
    in_one_statement = _scenario(clean_database, settings, transfers.transfer)

    outcomes, books = in_one_statement
    for n, (new, old) in enumerate(zip(outcomes, by_statements[0], strict=True)):
        assert new == old, f"request {n}"
    assert [o[0] for o in outcomes].count("moved") == 5  # four movements and a replay
    assert (len(books["journal"]), len(books["legs"]), len(books["outbox"])) == (4, 2 + 10, 8)
    for part in books:
        assert books[part] == by_statements[1][part], part
    assert check_ledger(clean_database) == LedgerCheck(0, 0, 0, 0, 0)


@pytest.fixture
def pair(clean_database, settings) -> tuple[int, int]:
    box, pin_hash = registration_secrets(settings)
    alice = register(clean_database, box, pin_hash, phone=ALICE, name="Alice Wanjiru")
    bob = register(clean_database, box, pin_hash, phone=BOB, name="Bob Otieno")
    fund(clean_database, ALICE, 10_000)
    return alice, bob


def _call(database: Database, alice: int, bob: int, amount: int, fee: int):
    """ledger_transfer called directly, as its own transaction, as the service calls it."""
    with UnitOfWork(database) as uow, uow.statements_commit_themselves():
        return uow.ledger.post_transfer(
            sender_user_id=alice,
            recipient=uow.ledger.transfer_parties(
                sender_user_id=alice, recipient_phone=BOB, fee_kind="transfer", amount=amount
            ).recipient,
            fees_code=transfers.fees_shard(alice),
            amount=amount,
            fee=fee,
            idempotency_key=f"direct:{amount}:{fee}",
            request_hash="h",
            reference="ABCDEFGHJK",
            channel="api",
            note=None,
            created_at=NOW,
            today=nairobi_day(NOW),
            messages=(),
        )


def test_the_function_refuses_an_overdraft_and_writes_nothing(clean_database, pair):
    alice, bob = pair

    refused = _call(clean_database, alice, bob, 10_000, 1)

    assert (refused.outcome, refused.transaction_id, refused.sender_balance) == (
        "insufficient",
        None,
        10_000,
    )
    assert wallet_balance(clean_database, alice) == 10_000
    with UnitOfWork(clean_database) as uow:
        assert uow.ledger.find(key="direct:10000:1") is None
    posted = _call(clean_database, alice, bob, 9_999, 1)
    assert (posted.outcome, posted.sender_balance, posted.receiver_balance) == ("posted", 0, 9_999)
    assert check_ledger(clean_database) == LedgerCheck(0, 0, 0, 0, 0)


def test_retries_racing_for_the_last_shilling_replay_instead_of_refusing(
    clean_database, crowd, pair
):
    # The wallet holds one transfer: the retries that queue on its lock behind the first
    # must find its key (a replay), not the balance it left (a refusal).
    alice, bob = pair
    outcomes = run_together([send(crowd, alice, BOB, 10_000, "ussd:last") for _ in range(20)])

    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    assert len({o.transaction_id for o in outcomes}) == 1
    assert sum(not o.replayed for o in outcomes) == 1
    assert wallet_balance(clean_database, alice) == 0
    assert wallet_balance(clean_database, bob) == 10_000
    assert check_ledger(clean_database) == LedgerCheck(0, 0, 0, 0, 0)


def test_a_transfers_sms_carry_its_request_id_and_its_statements_their_timeout(
    clean_database, pair
):
    # Both ride in front of each autocommit statement (app/db/pool.py), as in front of
    # a transaction's first: the outbox rows take the id, the statements the timeout.
    alice, _ = pair
    with request_scope("req-transfer-0001"):
        moved = send(clean_database, alice, BOB, 5_000, "ussd:rid")()

    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT request_id FROM outbox WHERE payload->>'template' LIKE 'transfer%%'"
        )
        assert cur.fetchall() == [("req-transfer-0001",)]
        conn.rollback()
    assert not moved.replayed
    uow = UnitOfWork(clean_database)
    with uow, uow.statements_commit_themselves(), uow.conn.cursor() as cur:
        cur.execute("SELECT current_setting('statement_timeout')")
        assert cur.fetchone()[0] != "0"
