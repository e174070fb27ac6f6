"""The double-entry check (journal_check_balanced, migration 0001, a deferred constraint
trigger on journal_transactions and journal_legs) refuses every unbalanced journal
transaction, whether its legs come in one statement or several, before or after the
check ran early (SET CONSTRAINTS ... IMMEDIATE), beside another journal transaction of
the same database transaction, or in a later database transaction of the same session.
A cheaper check (docs/benchmarks.md: checking once per journal transaction was measured)
must pass these as they are."""

from __future__ import annotations

import psycopg2
import psycopg2.errors
import pytest

from tests.support.wallets import check_ledger

_JOURNAL = (
    "INSERT INTO journal_transactions (reference, kind, amount, idempotency_key,"
    " request_hash, channel) VALUES (%(ref)s, 'cash_in', 100, %(ref)s, 'h', 'admin')"
    " RETURNING id"
)
_LEG = (
    "INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)"
    " SELECT %(tx)s, id, %(amount)s, 0 FROM ledger_accounts WHERE code = %(code)s"
)


@pytest.fixture
def conn(clean_database):
    connection = psycopg2.connect(clean_database.dsn)
    yield connection
    connection.close()
    assert check_ledger(clean_database).sound


def journal(cur, ref: str) -> int:
    cur.execute(_JOURNAL, {"ref": ref})
    return cur.fetchone()[0]


def leg(cur, tx: int, amount: int, code: str) -> None:
    cur.execute(_LEG, {"tx": tx, "amount": amount, "code": code})


def balanced(cur, ref: str) -> int:
    """A journal transaction of two legs that sum to zero (the suspense account may go
    below zero)."""
    tx = journal(cur, ref)
    leg(cur, tx, 100, "fees:0")
    leg(cur, tx, -100, "suspense")
    return tx


def test_legs_written_one_by_one_that_balance_commit(conn):
    with conn.cursor() as cur:
        balanced(cur, "BALANCED23")
    conn.commit()


def test_a_leg_written_after_the_check_ran_early_is_checked_again(conn):
    with conn.cursor() as cur:
        tx = balanced(cur, "EARLYCHK23")
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the check runs now: balanced
        with pytest.raises(psycopg2.errors.CheckViolation, match="unbalanced"):
            leg(cur, tx, 100, "fees:2")
    conn.rollback()


def test_a_leg_added_after_an_early_check_is_refused_at_commit_too(conn):
    with conn.cursor() as cur:
        tx = balanced(cur, "EARLYCOM23")
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute("SET CONSTRAINTS ALL DEFERRED")
        leg(cur, tx, 100, "fees:2")
    with pytest.raises(psycopg2.errors.CheckViolation, match="unbalanced"):
        conn.commit()


def test_a_second_journal_transaction_is_checked_on_its_own(conn):
    with conn.cursor() as cur:
        balanced(cur, "FIRSTTXN23")
        second = journal(cur, "SECONDTX23")
        leg(cur, second, 100, "fees:2")
        leg(cur, second, -50, "suspense")
    with pytest.raises(psycopg2.errors.CheckViolation, match="unbalanced"):
        conn.commit()


def test_a_leg_added_to_an_earlier_journal_transaction_of_the_session_is_checked(conn):
    with conn.cursor() as cur:
        tx = balanced(cur, "EARLIERT23")
    conn.commit()
    with conn.cursor() as cur:  # the same session, a new database transaction
        leg(cur, tx, 100, "fees:2")
    with pytest.raises(psycopg2.errors.CheckViolation, match="unbalanced"):
        conn.commit()


def test_a_journal_transaction_with_one_leg_is_refused(conn):
    with conn.cursor() as cur:
        tx = journal(cur, "ONELEGTX23")
        leg(cur, tx, 100, "fees:0")
    with pytest.raises(psycopg2.errors.CheckViolation, match="unbalanced"):
        conn.commit()
