"""SQLite storage of PayTrace's local Stellar network: ledger entries and history.

One writer connection holds the open ledger's SQLite transaction (BEGIN at open,
COMMIT at close), so readers on their own connections (WAL) always see the last
closed ledger, as Horizon does, and a crash loses only the ledger nobody was told
about yet. Each transaction and each operation runs inside a SAVEPOINT, which is how
failed operations are undone without undoing the fee and the sequence number.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

DB_FILE = "network.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledgers (
    sequence INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    closed_at TEXT NOT NULL,
    successful_transaction_count INTEGER NOT NULL,
    failed_transaction_count INTEGER NOT NULL,
    operation_count INTEGER NOT NULL,
    fee_pool INTEGER NOT NULL,
    total_coins INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    account_id TEXT PRIMARY KEY,
    balance INTEGER NOT NULL,
    seq_num INTEGER NOT NULL,
    num_subentries INTEGER NOT NULL,
    num_sponsoring INTEGER NOT NULL,
    num_sponsored INTEGER NOT NULL,
    sponsor TEXT,
    last_modified_ledger INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS trustlines (
    account_id TEXT NOT NULL,
    asset_code TEXT NOT NULL,
    asset_issuer TEXT NOT NULL,
    balance INTEGER NOT NULL,
    trust_limit INTEGER NOT NULL,
    sponsor TEXT,
    last_modified_ledger INTEGER NOT NULL,
    PRIMARY KEY (account_id, asset_code, asset_issuer)
);
CREATE TABLE IF NOT EXISTS transactions (
    hash TEXT PRIMARY KEY,
    inner_hash TEXT,
    ledger INTEGER NOT NULL,
    application_order INTEGER NOT NULL,
    successful INTEGER NOT NULL,
    source_account TEXT NOT NULL,
    fee_account TEXT NOT NULL,
    fee_charged INTEGER NOT NULL,
    operation_count INTEGER NOT NULL,
    envelope_xdr TEXT NOT NULL,
    result_xdr TEXT NOT NULL,
    result_meta_xdr TEXT NOT NULL,
    result_codes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transactions_by_inner_hash ON transactions (inner_hash);
-- Muxed ids are uint64: kept as text, SQLite integers stop at 2**63 - 1.
CREATE TABLE IF NOT EXISTS payments (
    id INTEGER PRIMARY KEY,
    transaction_hash TEXT NOT NULL,
    ledger INTEGER NOT NULL,
    type TEXT NOT NULL,
    source_account TEXT NOT NULL,
    from_account TEXT NOT NULL,
    from_muxed TEXT,
    from_muxed_id TEXT,
    to_account TEXT NOT NULL,
    to_muxed TEXT,
    to_muxed_id TEXT,
    asset_code TEXT,
    asset_issuer TEXT,
    amount INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_from ON payments (from_account, id);
CREATE INDEX IF NOT EXISTS payments_to ON payments (to_account, id);
"""


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # A ledger's COMMIT survives a process crash; losing the last ledger to a power cut
    # is acceptable for a development network and keeps closes cheap.
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


@dataclass
class Account:
    account_id: str
    balance: int
    seq_num: int
    num_subentries: int = 0
    num_sponsoring: int = 0
    num_sponsored: int = 0
    sponsor: str | None = None
    last_modified_ledger: int = 0


@dataclass
class Trustline:
    account_id: str
    asset_code: str
    asset_issuer: str
    balance: int
    limit: int
    sponsor: str | None = None
    last_modified_ledger: int = 0


class LedgerState:
    """Ledger entries as the open ledger sees them, on the writer's connection.

    Accounts here have only their master key (weight 1, thresholds 0, no flags), so
    an account is its balance, sequence number and reserve counters."""

    def __init__(self, conn: sqlite3.Connection, ledger_seq: int, base_reserve: int) -> None:
        self.conn = conn
        self.ledger_seq = ledger_seq
        self.base_reserve = base_reserve

    def account(self, account_id: str) -> Account | None:
        row = self.conn.execute(
            "SELECT * FROM accounts WHERE account_id = ?", (account_id,)
        ).fetchone()
        return Account(**dict(row)) if row else None

    def put_account(self, account: Account) -> None:
        account.last_modified_ledger = self.ledger_seq
        self.conn.execute(
            "INSERT INTO accounts VALUES (:account_id, :balance, :seq_num, :num_subentries,"
            " :num_sponsoring, :num_sponsored, :sponsor, :last_modified_ledger)"
            " ON CONFLICT (account_id) DO UPDATE SET balance = excluded.balance,"
            " seq_num = excluded.seq_num, num_subentries = excluded.num_subentries,"
            " num_sponsoring = excluded.num_sponsoring, num_sponsored = excluded.num_sponsored,"
            " sponsor = excluded.sponsor, last_modified_ledger = excluded.last_modified_ledger",
            account.__dict__,
        )

    def trustline(self, account_id: str, code: str, issuer: str) -> Trustline | None:
        row = self.conn.execute(
            'SELECT account_id, asset_code, asset_issuer, balance, trust_limit AS "limit",'
            " sponsor, last_modified_ledger FROM trustlines"
            " WHERE account_id = ? AND asset_code = ? AND asset_issuer = ?",
            (account_id, code, issuer),
        ).fetchone()
        return Trustline(**dict(row)) if row else None

    def put_trustline(self, line: Trustline) -> None:
        line.last_modified_ledger = self.ledger_seq
        self.conn.execute(
            "INSERT INTO trustlines VALUES (:account_id, :asset_code, :asset_issuer, :balance,"
            " :limit, :sponsor, :last_modified_ledger)"
            " ON CONFLICT (account_id, asset_code, asset_issuer) DO UPDATE SET"
            " balance = excluded.balance, trust_limit = excluded.trust_limit,"
            " sponsor = excluded.sponsor, last_modified_ledger = excluded.last_modified_ledger",
            line.__dict__,
        )

    def delete_trustline(self, line: Trustline) -> None:
        self.conn.execute(
            "DELETE FROM trustlines WHERE account_id = ? AND asset_code = ? AND asset_issuer = ?",
            (line.account_id, line.asset_code, line.asset_issuer),
        )

    def min_balance(self, account: Account) -> int:
        """(2 + subentries + sponsoring - sponsored) base reserves, in stroops."""
        entries = 2 + account.num_subentries + account.num_sponsoring - account.num_sponsored
        return entries * self.base_reserve

    def available(self, account: Account) -> int:
        """XLM the account may spend without going below its minimum balance."""
        return account.balance - self.min_balance(account)

    # Savepoint names are fixed identifiers chosen by this package, never user input.
    def savepoint(self, name: str) -> None:
        self.conn.execute(f"SAVEPOINT {name}")

    def release(self, name: str) -> None:
        self.conn.execute(f"RELEASE {name}")

    def undo(self, name: str) -> None:
        """Undo everything since the savepoint `name`, and drop it."""
        self.conn.execute(f"ROLLBACK TO {name}")
        self.conn.execute(f"RELEASE {name}")
