"""The local network's history as Horizon derives it from transactions: who took part
in each one (its participants), its operations and their effects.

Operations and effects are read back from the stored envelopes rather than stored a
second time: an envelope is the whole truth of what a successful transaction did
here, since every operation the network implements either fully applies or the
transaction fails. Participants are stored (table `participants`), because
`/accounts/{id}/transactions` and `/accounts/{id}/operations` must find an account's
history without decoding every envelope on the network.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from stellar_sdk import FeeBumpTransactionEnvelope, TransactionBuilder, TransactionEnvelope
from stellar_sdk.operation import (
    BeginSponsoringFutureReserves,
    CreateAccount,
    Operation,
    Payment,
)

PARTICIPANTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS participants (
    account_id TEXT NOT NULL,
    tx_id INTEGER NOT NULL,      -- the transaction's total order id (its paging token)
    op_index INTEGER NOT NULL,   -- 0: the transaction (source, fee payer); 1..: an operation
    PRIMARY KEY (account_id, tx_id, op_index)
);
CREATE INDEX IF NOT EXISTS transactions_in_order ON transactions (ledger, application_order);
"""


def toid(ledger: int, order: int, op_index: int = 0) -> int:
    """Horizon's total order id: ledger, transaction order in it, operation index."""
    return (ledger << 32) | (order << 12) | op_index


@dataclass(frozen=True)
class Op:
    """One operation of a stored transaction: its id (Horizon's total order), index
    (1-based), source account and the SDK's operation."""

    id: int
    index: int
    source: str
    source_muxed: str | None
    source_muxed_id: int | None
    op: Operation


def inner_envelope(envelope_xdr: str, passphrase: str) -> TransactionEnvelope:
    """The transaction an envelope carries (a fee bump's inner one)."""
    envelope = TransactionBuilder.from_xdr(envelope_xdr, passphrase)
    if isinstance(envelope, FeeBumpTransactionEnvelope):
        return envelope.transaction.inner_transaction_envelope
    return envelope


def operations(tx_row: dict, passphrase: str) -> list[Op]:
    """The operations of a stored transaction, in order."""
    tx = inner_envelope(tx_row["envelope_xdr"], passphrase).transaction
    base = toid(tx_row["ledger"], tx_row["application_order"])
    found = []
    for index, op in enumerate(tx.operations, start=1):
        source = op.source or tx.source
        muxed = source.account_muxed if source.account_muxed_id is not None else None
        found.append(Op(base | index, index, source.account_id, muxed, source.account_muxed_id, op))
    return found


def participants(envelope_xdr: str, fee_account: str, passphrase: str) -> set[tuple[str, int]]:
    """(account, op index) pairs for everyone a transaction touched; index 0 is the
    transaction itself (its source and fee payer)."""
    tx = inner_envelope(envelope_xdr, passphrase).transaction
    found = {(tx.source.account_id, 0), (fee_account, 0)}
    for index, op in enumerate(tx.operations, start=1):
        touched = {(op.source or tx.source).account_id}
        if isinstance(op, CreateAccount):
            touched.add(op.destination)
        elif isinstance(op, Payment):
            touched.add(op.destination.account_id)
        elif isinstance(op, BeginSponsoringFutureReserves):
            touched.add(op.sponsored_id)
        for account in touched:
            found |= {(account, index), (account, 0)}
    return found


def record_participants(
    conn: sqlite3.Connection, tx_id: int, envelope_xdr: str, fee_account: str, passphrase: str
) -> None:
    """Store a transaction's participants (on the writer's connection, in its ledger)."""
    conn.executemany(
        "INSERT OR IGNORE INTO participants VALUES (?, ?, ?)",
        [
            (account, tx_id, index)
            for account, index in participants(envelope_xdr, fee_account, passphrase)
        ],
    )


def backfill_participants(conn: sqlite3.Connection, passphrase: str) -> None:
    """Fill `participants` for a network created before it existed (one pass, at open)."""
    if conn.execute("SELECT 1 FROM participants LIMIT 1").fetchone() is not None:
        return
    rows = conn.execute(
        "SELECT ledger, application_order, envelope_xdr, fee_account FROM transactions"
    ).fetchall()
    if not rows:
        return
    conn.execute("BEGIN IMMEDIATE")
    for row in rows:
        tx_id = toid(row["ledger"], row["application_order"])
        record_participants(conn, tx_id, row["envelope_xdr"], row["fee_account"], passphrase)
    conn.execute("COMMIT")
