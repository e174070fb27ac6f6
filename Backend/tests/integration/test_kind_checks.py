"""The kind rules checked by function (migration 0052) refuse what the lists refused.

journal_transactions, ledger_accounts and outbox check their kind by calling an
IMMUTABLE function (cheaper for PostgreSQL than a literal list: docs/benchmarks.md); the
constraints keep their names, and a kind outside the list is still refused.
"""

from __future__ import annotations

import psycopg2
import pytest

from app.domain.accounts import ISSUER_KINDS


def _refused(database, sql: str, params: dict) -> str:
    with database.connection() as conn, conn.cursor() as cur:
        try:
            with pytest.raises(psycopg2.errors.CheckViolation) as raised:
                cur.execute(sql, params)
        finally:
            conn.rollback()
    return raised.value.diag.constraint_name


def _answers(database, sql: str, params: dict):
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
        conn.rollback()
    return row


def test_a_movement_of_an_unknown_kind_is_refused(clean_database):
    sql = """INSERT INTO journal_transactions
             (reference, kind, amount, idempotency_key, request_hash, channel)
             VALUES ('ABCDEFGH23', %(kind)s, 100, 'k', 'h', 'system')"""
    assert _refused(clean_database, sql, {"kind": "gift"}) == "journal_transactions_kind_check"
    assert _refused(clean_database, sql, {"kind": "Transfer"}) == "journal_transactions_kind_check"


def test_an_account_of_an_unknown_kind_is_refused(clean_database):
    sql = "INSERT INTO ledger_accounts (kind, code) VALUES (%(kind)s, 'test:unknown')"
    assert _refused(clean_database, sql, {"kind": "loan"}) == "ledger_accounts_kind_check"
    assert _answers(clean_database, sql + " RETURNING kind", {"kind": "fees"}) == ("fees",)


def test_only_the_issuer_kinds_may_go_below_zero(clean_database):
    every = _answers(
        clean_database,
        "SELECT array_agg(k ORDER BY k) FILTER (WHERE ledger_account_may_go_negative(k))"
        " FROM unnest(%(kinds)s::text[]) AS k",
        {"kinds": ["wallet", "fees", "campaign", "merchant", "promotions", *ISSUER_KINDS]},
    )
    assert every == (sorted(ISSUER_KINDS),)
    # An account created below zero (no leg moves a balance there but through this same
    # rule) is refused unless its kind may go below zero.
    sql = """INSERT INTO ledger_accounts (kind, code, balance)
             VALUES (%(kind)s, 'test:negative', -1)"""
    assert _refused(clean_database, sql, {"kind": "fees"}) == "ledger_accounts_non_negative"
    assert _answers(clean_database, sql + " RETURNING balance", {"kind": "suspense"}) == (-1,)


def test_an_outbox_row_of_an_unknown_kind_is_refused(clean_database):
    sql = "INSERT INTO outbox (kind, payload, dedupe_key) VALUES (%(kind)s, '{}', 'test:k')"
    assert _refused(clean_database, sql, {"kind": "email"}) == "outbox_kind_check"
    assert _answers(clean_database, sql + " RETURNING kind", {"kind": "sms"}) == ("sms",)
