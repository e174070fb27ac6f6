"""What M-Pesa callbacks must not change, read from PayTrace's books: every ledger
balance, the journal, and each deposit's and withdrawal's money-bearing columns. A
hostile-client test takes it before and after and asserts they are equal."""

from __future__ import annotations

from dataclasses import dataclass

from app.db.pool import Database
from tests.support.mpesa import rows


@dataclass(frozen=True)
class Books:
    balances: list[tuple]
    journal: list[tuple]
    deposits: list[tuple]
    withdrawals: list[tuple]


def books(database: Database) -> Books:
    return Books(
        balances=rows(database, "SELECT id, balance FROM ledger_accounts ORDER BY id"),
        journal=rows(database, "SELECT id, kind, amount FROM journal_transactions ORDER BY id"),
        deposits=rows(
            database,
            "SELECT reference, status, checkout_request_id, transaction_id, receipt"
            " FROM mpesa_deposits ORDER BY id",
        ),
        withdrawals=rows(
            database,
            "SELECT reference, status, outcome_id, receipt, not_found"
            " FROM mpesa_withdrawals ORDER BY id",
        ),
    )


def fault(rig, **spec: object) -> None:
    """Make the sandbox's next answer of one API go wrong (POST /sandbox/faults)."""
    answer = rig.sandbox.http.post("/sandbox/faults", json=spec)
    assert answer.status_code == 201, answer.text


def outcomes(rig, kind: str) -> list[str]:
    """The stored outcomes of one kind of M-Pesa callback, oldest first."""
    return [outcome for k, _, outcome, _, _ in rig.callbacks() if k == kind]
