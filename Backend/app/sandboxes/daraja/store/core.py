"""What every product's part of the sandbox's store shares: the SQLite file and its
schema, one connection and its lock, a request written with its planned callbacks in
one transaction; and the tokens, scenario rules and callbacks, which are no one
product's (part of Store, app/sandboxes/daraja/store/)."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import astuple, fields
from pathlib import Path

from app.sandboxes.daraja.scenarios import Rule
from app.sandboxes.daraja.store.records import (
    B2BRecord,
    B2CRecord,
    C2BRecord,
    Delivery,
    ReversalRecord,
    StkRecord,
)

DB_FILE = "daraja.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS stk_pushes (
    checkout_request_id TEXT PRIMARY KEY,
    merchant_request_id TEXT NOT NULL,
    phone TEXT NOT NULL,
    amount INTEGER NOT NULL,
    party_b TEXT NOT NULL,
    account_reference TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    result TEXT NOT NULL,
    result_code INTEGER NOT NULL,
    result_desc TEXT NOT NULL,
    receipt TEXT UNIQUE,
    created_at REAL NOT NULL,
    settles_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS b2c_payments (
    conversation_id TEXT PRIMARY KEY,
    originator_conversation_id TEXT NOT NULL UNIQUE,
    phone TEXT NOT NULL,
    amount INTEGER NOT NULL,
    command_id TEXT NOT NULL,
    remarks TEXT NOT NULL,
    occasion TEXT NOT NULL,
    result_url TEXT NOT NULL,
    queue_timeout_url TEXT NOT NULL,
    result TEXT NOT NULL,
    result_code INTEGER NOT NULL,
    result_desc TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    settles_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS b2c_by_transaction ON b2c_payments (transaction_id);
CREATE TABLE IF NOT EXISTS b2b_payments (
    conversation_id TEXT PRIMARY KEY,
    originator_conversation_id TEXT NOT NULL UNIQUE,
    party_b TEXT NOT NULL,
    account_reference TEXT NOT NULL,
    amount INTEGER NOT NULL,
    result_url TEXT NOT NULL,
    queue_timeout_url TEXT NOT NULL,
    result TEXT NOT NULL,
    result_code INTEGER NOT NULL,
    result_desc TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    token TEXT,
    units TEXT,
    created_at REAL NOT NULL,
    settles_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rules (
    id INTEGER PRIMARY KEY,
    result TEXT NOT NULL,
    delivery TEXT NOT NULL,
    phone TEXT,
    amount INTEGER,
    api TEXT
);
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    reference TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    due_at REAL NOT NULL,
    sent_at REAL,
    status_code INTEGER,
    error TEXT
);
CREATE TABLE IF NOT EXISTS c2b_urls (
    shortcode TEXT PRIMARY KEY,
    response_type TEXT NOT NULL,
    confirmation_url TEXT NOT NULL,
    validation_url TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS c2b_payments (
    trans_id TEXT PRIMARY KEY,
    command_id TEXT NOT NULL,
    shortcode TEXT NOT NULL,
    phone TEXT NOT NULL,
    amount INTEGER NOT NULL,
    bill_ref TEXT NOT NULL,
    status TEXT NOT NULL,
    validation TEXT,
    created_at REAL NOT NULL,
    settled_at REAL
);
CREATE TABLE IF NOT EXISTS reversals (
    conversation_id TEXT PRIMARY KEY,
    originator_conversation_id TEXT NOT NULL UNIQUE,
    trans_id TEXT NOT NULL,
    amount INTEGER NOT NULL,
    result_code TEXT NOT NULL,
    result_desc TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    result_url TEXT NOT NULL,
    created_at REAL NOT NULL,
    settles_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS stk_prompts (
    checkout_request_id TEXT PRIMARY KEY REFERENCES stk_pushes (checkout_request_id),
    phone TEXT NOT NULL,
    delivery TEXT NOT NULL,
    expires_at REAL NOT NULL,
    answer TEXT,
    answered_at REAL
);
CREATE INDEX IF NOT EXISTS stk_prompts_open ON stk_prompts (phone) WHERE answer IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS reversals_once ON reversals (trans_id) WHERE result_code = '0';
CREATE INDEX IF NOT EXISTS callbacks_unsent ON callbacks (due_at) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS callbacks_by_reference ON callbacks (reference);
"""


def _columns(record_type: type) -> str:
    return ", ".join(field.name for field in fields(record_type))


def _placeholders(record_type: type) -> str:
    return ", ".join("?" for _ in fields(record_type))


class StoreCore:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_FILE
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _all(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: tuple = ()) -> sqlite3.Row | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    # Tokens
    def issue_token(self, token: str, expires_at: float) -> None:
        with self._lock:
            self._conn.execute("INSERT INTO tokens VALUES (?, ?)", (token, expires_at))

    def token_valid(self, token: str, now: float) -> bool:
        row = self._one("SELECT 1 FROM tokens WHERE token = ? AND expires_at > ?", (token, now))
        return row is not None

    def expire_tokens(self, now: float) -> None:
        with self._lock:
            self._conn.execute("UPDATE tokens SET expires_at = ? WHERE expires_at > ?", (now, now))

    # Requests, each written with its planned callbacks in one transaction
    def _add(
        self,
        table: str,
        record: StkRecord | B2CRecord | B2BRecord | C2BRecord | ReversalRecord,
        deliveries: list[Delivery],
    ) -> None:
        kind = type(record)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    f"INSERT INTO {table} ({_columns(kind)}) VALUES ({_placeholders(kind)})",  # noqa: S608 - fixed names
                    astuple(record),
                )
                self._insert_deliveries(deliveries)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _insert_deliveries(self, deliveries: list[Delivery]) -> None:
        self._conn.executemany(
            "INSERT INTO callbacks (kind, reference, url, body, due_at) VALUES (?, ?, ?, ?, ?)",
            [(d.kind, d.reference, d.url, json.dumps(d.body), d.due_at) for d in deliveries],
        )

    def add_deliveries(self, deliveries: list[Delivery]) -> None:
        with self._lock:
            self._insert_deliveries(deliveries)

    # Scenario rules
    def rules(self) -> list[Rule]:
        return [Rule(**dict(row)) for row in self._all("SELECT * FROM rules ORDER BY id")]

    def add_rule(self, rule: Rule) -> Rule:
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO rules (result, delivery, phone, amount, api) VALUES (?, ?, ?, ?, ?)",
                (rule.result, rule.delivery, rule.phone, rule.amount, rule.api),
            )
        return Rule(**{**rule.__dict__, "id": cursor.lastrowid})

    def delete_rules(self, rule_id: int | None = None) -> int:
        """Delete one rule (or all of them); how many went."""
        with self._lock:
            if rule_id is None:
                return self._conn.execute("DELETE FROM rules").rowcount
            return self._conn.execute("DELETE FROM rules WHERE id = ?", (rule_id,)).rowcount

    # Callbacks
    def claim_due(self, now: float) -> list[Delivery]:
        """Callbacks due by `now`, marked sent (at most once, even across a crash)."""
        with self._lock:
            rows = self._conn.execute(
                "UPDATE callbacks SET sent_at = ? WHERE sent_at IS NULL AND due_at <= ?"
                " RETURNING *",
                (now, now),
            ).fetchall()
        return sorted((_delivery(row) for row in rows), key=lambda d: (d.due_at, d.id))

    def record_answer(self, delivery_id: int, status_code: int | None, error: str | None) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE callbacks SET status_code = ?, error = ? WHERE id = ?",
                (status_code, error, delivery_id),
            )

    def deliveries(self, reference: str | None = None) -> list[Delivery]:
        if reference is None:
            rows = self._all("SELECT * FROM callbacks ORDER BY id")
        else:
            rows = self._all(
                "SELECT * FROM callbacks WHERE reference = ? ORDER BY id", (reference,)
            )
        return [_delivery(row) for row in rows]


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(**{**dict(row), "body": json.loads(row["body"])})
