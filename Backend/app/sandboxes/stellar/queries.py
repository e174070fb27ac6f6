"""Reads of PayTrace's local Stellar network, as Horizon serves them: closed ledgers only.

Each read opens its own short-lived connection and reads inside one SQLite
transaction, so an answer is one consistent snapshot of the last closed ledger and
never waits for the writer (WAL).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from app.sandboxes.stellar.amounts import INT64_MAX

_PAYMENTS = (
    "SELECT p.*, l.closed_at FROM payments p JOIN ledgers l ON l.sequence = p.ledger"
    " WHERE (p.from_account = ? OR p.to_account = ?)"
)
_PAYMENTS_ASC = _PAYMENTS + " AND p.id > ? ORDER BY p.id ASC LIMIT ?"
_PAYMENTS_DESC = _PAYMENTS + " AND p.id < ? ORDER BY p.id DESC LIMIT ?"
_ALL_PAYMENTS = "SELECT p.*, l.closed_at FROM payments p JOIN ledgers l ON l.sequence = p.ledger"
_ALL_PAYMENTS_ASC = _ALL_PAYMENTS + " WHERE p.id > ? ORDER BY p.id ASC LIMIT ?"
_ALL_PAYMENTS_DESC = _ALL_PAYMENTS + " WHERE p.id < ? ORDER BY p.id DESC LIMIT ?"
MAX_PAGE = 200
DEFAULT_PAGE = 10


class BadQuery(ValueError):
    """A query parameter Horizon would refuse; `field` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def order_and_limit(order: str | None, limit: str | None) -> tuple[str, int]:
    """Horizon's `order` and `limit`, checked."""
    order = order or "asc"
    if order not in ("asc", "desc"):
        raise BadQuery("order", "order must be asc or desc")
    try:
        size = int(limit) if limit else DEFAULT_PAGE
    except ValueError:
        raise BadQuery("limit", "limit must be a whole number") from None
    if not 1 <= size <= MAX_PAGE:
        raise BadQuery("limit", f"limit must be between 1 and {MAX_PAGE}")
    return order, size


def id_cursor(cursor: str | None, order: str, latest_ledger: int) -> int:
    """A numeric paging token as an id to page after (asc) or before (desc). No cursor
    starts from the oldest end (asc) or the newest (desc); `now` is the end of the
    last closed ledger, so ascending from it gives only what closes later."""
    if not cursor or cursor == "now":
        if order == "desc":
            return INT64_MAX
        return ((latest_ledger + 1) << 32) - 1 if cursor == "now" else 0
    try:
        start = int(cursor)
    except ValueError:
        raise BadQuery("cursor", "cursor must be a paging token") from None
    if not 0 <= start <= INT64_MAX:
        raise BadQuery("cursor", "cursor must be a paging token")
    return start


def effect_cursor(cursor: str | None, order: str, latest_ledger: int) -> tuple[int, int]:
    """An effect's paging token ("<operation id>-<index>", or an operation id) as a key."""
    if not cursor or cursor == "now" or "-" not in cursor:
        return id_cursor(cursor, order, latest_ledger), 0
    op_id, _, index = cursor.partition("-")
    if not index.isdigit():
        raise BadQuery("cursor", "cursor must be a paging token")
    return id_cursor(op_id, order, latest_ledger), int(index)


class Reader:
    """Reads over the network's database file."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.db_path, timeout=30, isolation_level=None)) as conn:
            conn.row_factory = sqlite3.Row
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("ROLLBACK")

    def account(self, account_id: str) -> tuple[dict, list[dict]] | None:
        """The account row and its trustlines, or None."""
        with self._snapshot() as conn:
            row = conn.execute("SELECT * FROM accounts WHERE account_id = ?", (account_id,))
            account = row.fetchone()
            if account is None:
                return None
            lines = conn.execute(
                "SELECT * FROM trustlines WHERE account_id = ? ORDER BY asset_code, asset_issuer",
                (account_id,),
            ).fetchall()
            return dict(account), [dict(line) for line in lines]

    def transaction(self, tx_hash: str) -> dict | None:
        """A transaction by its hash or its fee bump's inner hash, with its ledger's close time."""
        with self._snapshot() as conn:
            row = conn.execute(
                "SELECT t.*, l.closed_at FROM transactions t"
                " JOIN ledgers l ON l.sequence = t.ledger WHERE t.hash = ? OR t.inner_hash = ?",
                (tx_hash, tx_hash),
            ).fetchone()
            return dict(row) if row else None

    def latest_ledger(self) -> dict:
        with self._snapshot() as conn:
            return dict(conn.execute("SELECT * FROM ledgers ORDER BY sequence DESC").fetchone())

    def ledger(self, sequence: int) -> dict | None:
        with self._snapshot() as conn:
            row = conn.execute("SELECT * FROM ledgers WHERE sequence = ?", (sequence,)).fetchone()
            return dict(row) if row else None

    def ledgers(self, start: int, order: str, limit: int) -> list[dict]:
        """Ledgers whose paging token (sequence << 32) is after (asc) or before (desc) `start`."""
        sequence, within = start >> 32, start & 0xFFFFFFFF
        if order == "asc":
            sql = "SELECT * FROM ledgers WHERE sequence > ? ORDER BY sequence ASC LIMIT ?"
            bound = sequence
        else:
            sql = "SELECT * FROM ledgers WHERE sequence < ? ORDER BY sequence DESC LIMIT ?"
            bound = sequence + (1 if within else 0)
        with self._snapshot() as conn:
            return [dict(row) for row in conn.execute(sql, (bound, limit))]

    def account_payments(self, account_id: str, start: int, order: str, limit: int) -> list[dict]:
        """Payments and account creations to or from the account, after/before `start`."""
        sql = _PAYMENTS_ASC if order == "asc" else _PAYMENTS_DESC
        with self._snapshot() as conn:
            rows = conn.execute(sql, (account_id, account_id, start, limit))
            return [dict(row) for row in rows]

    def payments(self, start: int, order: str, limit: int) -> list[dict]:
        """Every payment and account creation on the network, after/before `start`."""
        sql = _ALL_PAYMENTS_ASC if order == "asc" else _ALL_PAYMENTS_DESC
        with self._snapshot() as conn:
            return [dict(row) for row in conn.execute(sql, (start, limit))]

    def account_exists(self, account_id: str) -> bool:
        with self._snapshot() as conn:
            found = conn.execute("SELECT 1 FROM accounts WHERE account_id = ?", (account_id,))
            return found.fetchone() is not None
