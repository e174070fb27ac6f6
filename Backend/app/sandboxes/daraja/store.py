"""The sandbox's state in SQLite under its data directory: issued tokens, every STK
push and B2C payment with the outcome it was given, the STK prompts waiting for the
customer's answer, the paybill's C2B URLs and
payments, reversals, the scenario rules, and every callback planned and sent. It
survives restarts, so a query after a restart answers as before and callbacks due
meanwhile are still sent.

Long (over 300 lines) because it is one class over one SQLite connection and its lock:
every table's records and statements sit with the schema they read, and a request and
its planned callbacks are written in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from app.sandboxes.daraja.scenarios import Rule

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


@dataclass(frozen=True)
class StkRecord:
    checkout_request_id: str
    merchant_request_id: str
    phone: str
    amount: int
    party_b: str
    account_reference: str
    callback_url: str
    result: str
    result_code: int
    result_desc: str
    receipt: str | None  # success only
    created_at: float
    settles_at: float  # when the customer's answer (or the prompt's timeout) is known


@dataclass(frozen=True)
class B2CRecord:
    conversation_id: str
    originator_conversation_id: str
    phone: str
    amount: int
    command_id: str
    remarks: str
    occasion: str
    result_url: str
    queue_timeout_url: str
    result: str
    result_code: int
    result_desc: str
    transaction_id: str  # the receipt on success, `XXX0000000` otherwise
    created_at: float
    settles_at: float


@dataclass(frozen=True)
class B2BRecord:
    """A Business Pay Bill payment to a biller's paybill, with its outcome."""

    conversation_id: str
    originator_conversation_id: str
    party_b: str  # the biller's paybill
    account_reference: str  # the customer's account at the biller
    amount: int
    result_url: str
    queue_timeout_url: str
    result: str
    result_code: int
    result_desc: str
    transaction_id: str  # the receipt on success, `XXX0000000` otherwise
    token: str | None  # KPLC prepaid, paid: the sandbox's 20-digit token
    units: str | None
    created_at: float
    settles_at: float


@dataclass(frozen=True)
class Delivery:
    """One callback: planned with its body, then sent once (never retried, as Daraja)."""

    # stk_callback | b2c_result | b2c_queue_timeout | b2b_result | b2b_queue_timeout |
    # status_result | c2b_confirmation
    kind: str
    reference: str  # CheckoutRequestID, or the request's ConversationID
    url: str
    body: dict
    due_at: float
    id: int | None = None
    sent_at: float | None = None
    status_code: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class C2BUrls:
    shortcode: str
    response_type: str  # Completed | Cancelled: what happens when validation is not answered
    confirmation_url: str
    validation_url: str


@dataclass(frozen=True)
class C2BRecord:
    """A customer's payment to the paybill (or till): validated, then completed or not."""

    trans_id: str
    command_id: str
    shortcode: str
    phone: str
    amount: int
    bill_ref: str
    status: str  # validating | completed | rejected | cancelled
    validation: str | None  # what the validation URL answered (or why none counted)
    created_at: float
    settled_at: float | None = None


@dataclass(frozen=True)
class ReversalRecord:
    """A reversal of a payment into the paybill: done ('0') or refused, and its result."""

    conversation_id: str
    originator_conversation_id: str
    trans_id: str  # the payment reversed
    amount: int
    result_code: str
    result_desc: str
    transaction_id: str  # the reversal's own receipt (or `XXX0000000`)
    result_url: str
    created_at: float
    settles_at: float


def _columns(record_type: type) -> str:
    return ", ".join(field.name for field in fields(record_type))


def _placeholders(record_type: type) -> str:
    return ", ".join("?" for _ in fields(record_type))


class Store:
    """One SQLite connection shared by the request handlers and the callback sender."""

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

    def add_stk(self, record: StkRecord, deliveries: list[Delivery]) -> None:
        """Raises sqlite3.IntegrityError if the CheckoutRequestID is taken."""
        self._add("stk_pushes", record, deliveries)

    def add_stk_prompt(self, record: StkRecord, deliveries: list[Delivery], delivery: str) -> None:
        """A push whose prompt waits for the customer: stored with its timeout outcome
        and callbacks (due at `settles_at`, when the prompt expires), replaced if the
        customer answers first. Raises sqlite3.IntegrityError if the id is taken."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    f"INSERT INTO stk_pushes ({_columns(StkRecord)})"  # noqa: S608 - fixed names
                    f" VALUES ({_placeholders(StkRecord)})",
                    astuple(record),
                )
                self._conn.execute(
                    "INSERT INTO stk_prompts (checkout_request_id, phone, delivery, expires_at)"
                    " VALUES (?, ?, ?, ?)",
                    (record.checkout_request_id, record.phone, delivery, record.settles_at),
                )
                self._insert_deliveries(deliveries)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def open_prompts(self, phone: str, now: float) -> list[StkRecord]:
        """The pushes whose prompt is on `phone`'s screen at `now`, oldest first."""
        rows = self._all(
            "SELECT s.* FROM stk_prompts p JOIN stk_pushes s USING (checkout_request_id)"
            " WHERE p.phone = ? AND p.answer IS NULL AND p.expires_at > ? ORDER BY s.created_at",
            (phone, now),
        )
        return [StkRecord(**dict(row)) for row in rows]

    def prompt_delivery(self, checkout_request_id: str) -> str | None:
        """How the prompt's callback is to be delivered; None for a push with no prompt."""
        row = self._one(
            "SELECT delivery FROM stk_prompts WHERE checkout_request_id = ?",
            (checkout_request_id,),
        )
        return row["delivery"] if row else None

    def answer_prompt(self, answered: StkRecord, deliveries: list[Delivery], now: float) -> bool:
        """The customer's answer: the push's outcome and callbacks replaced, in one
        transaction, if its prompt is still open at `now` (False otherwise: answered
        already, or timed out and its callback due)."""
        reference = answered.checkout_request_id
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                closed = self._conn.execute(
                    "UPDATE stk_prompts SET answer = ?, answered_at = ? WHERE"
                    " checkout_request_id = ? AND answer IS NULL AND expires_at > ?",
                    (answered.result, now, reference, now),
                ).rowcount
                if closed:
                    self._conn.execute(
                        "UPDATE stk_pushes SET result = ?, result_code = ?, result_desc = ?,"
                        " receipt = ?, settles_at = ? WHERE checkout_request_id = ?",
                        (
                            answered.result,
                            answered.result_code,
                            answered.result_desc,
                            answered.receipt,
                            answered.settles_at,
                            reference,
                        ),
                    )
                    self._conn.execute(
                        "DELETE FROM callbacks WHERE reference = ? AND sent_at IS NULL",
                        (reference,),
                    )
                    self._insert_deliveries(deliveries)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return bool(closed)

    def add_b2c(self, record: B2CRecord, deliveries: list[Delivery]) -> None:
        """Raises sqlite3.IntegrityError on an OriginatorConversationID seen before."""
        self._add("b2c_payments", record, deliveries)

    def add_b2b(self, record: B2BRecord, deliveries: list[Delivery]) -> None:
        """Raises sqlite3.IntegrityError on an id seen before."""
        self._add("b2b_payments", record, deliveries)

    def b2b(self, *, originator_conversation_id: str = "", receipt: str = "") -> B2BRecord | None:
        """A B2B payment by its OriginatorConversationID, or by the receipt of a paid one."""
        row = self._one(
            "SELECT * FROM b2b_payments WHERE originator_conversation_id = ?"
            " OR (transaction_id = ? AND result = 'success')",
            (originator_conversation_id, receipt),
        )
        return B2BRecord(**dict(row)) if row else None

    def add_deliveries(self, deliveries: list[Delivery]) -> None:
        with self._lock:
            self._insert_deliveries(deliveries)

    # C2B: the URLs a shortcode registered, and the payments customers made to it
    def register_c2b(self, urls: C2BUrls) -> None:
        """Register (or replace) the shortcode's URLs."""
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO c2b_urls VALUES (?, ?, ?, ?)", astuple(urls))

    def c2b_urls(self, shortcode: str) -> C2BUrls | None:
        row = self._one("SELECT * FROM c2b_urls WHERE shortcode = ?", (shortcode,))
        return C2BUrls(**dict(row)) if row else None

    def add_c2b(self, record: C2BRecord) -> None:
        """Raises sqlite3.IntegrityError if the TransID is taken."""
        self._add("c2b_payments", record, [])

    def c2b(self, trans_id: str) -> C2BRecord | None:
        row = self._one("SELECT * FROM c2b_payments WHERE trans_id = ?", (trans_id,))
        return C2BRecord(**dict(row)) if row else None

    def settle_c2b(
        self, trans_id: str, status: str, validation: str, at: float, deliveries: list[Delivery]
    ) -> None:
        """The payment's end (completed, rejected, cancelled) and its confirmation, if any."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "UPDATE c2b_payments SET status = ?, validation = ?, settled_at = ?"
                    " WHERE trans_id = ?",
                    (status, validation, at, trans_id),
                )
                self._insert_deliveries(deliveries)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def add_reversal(self, record: ReversalRecord, deliveries: list[Delivery]) -> None:
        """Raises sqlite3.IntegrityError when the payment was reversed already."""
        self._add("reversals", record, deliveries)

    def reversal(self, originator_conversation_id: str) -> ReversalRecord | None:
        row = self._one(
            "SELECT * FROM reversals WHERE originator_conversation_id = ?",
            (originator_conversation_id,),
        )
        return ReversalRecord(**dict(row)) if row else None

    def reversed_payment(self, trans_id: str) -> ReversalRecord | None:
        """The reversal that returned this payment, if one did."""
        row = self._one(
            "SELECT * FROM reversals WHERE trans_id = ? AND result_code = '0'", (trans_id,)
        )
        return ReversalRecord(**dict(row)) if row else None

    def stk(self, *, checkout_request_id: str = "", receipt: str = "") -> StkRecord | None:
        row = self._one(
            "SELECT * FROM stk_pushes WHERE checkout_request_id = ? OR receipt = ?",
            (checkout_request_id, receipt),
        )
        return StkRecord(**dict(row)) if row else None

    def b2c(self, *, originator_conversation_id: str = "", receipt: str = "") -> B2CRecord | None:
        """A payment by its OriginatorConversationID, or by the receipt of a paid one."""
        row = self._one(
            "SELECT * FROM b2c_payments WHERE originator_conversation_id = ?"
            " OR (transaction_id = ? AND result = 'success')",
            (originator_conversation_id, receipt),
        )
        return B2CRecord(**dict(row)) if row else None

    def completed_between(
        self, start: float, end: float
    ) -> tuple[list[StkRecord], list[B2CRecord]]:
        """The STK pushes paid and the B2C payments made in [start, end): a statement."""
        pushes = self._all(
            "SELECT * FROM stk_pushes WHERE result_code = 0 AND settles_at >= ?"
            " AND settles_at < ? ORDER BY settles_at",
            (start, end),
        )
        payments = self._all(
            "SELECT * FROM b2c_payments WHERE result_code = 0 AND settles_at >= ?"
            " AND settles_at < ? ORDER BY settles_at",
            (start, end),
        )
        return [StkRecord(**dict(r)) for r in pushes], [B2CRecord(**dict(r)) for r in payments]

    def rail_completed_between(
        self, start: float, end: float
    ) -> tuple[list[C2BRecord], list[B2BRecord], list[ReversalRecord]]:
        """The paybill payments completed, the B2B payments made and the reversals done
        in [start, end): the rest of a statement."""
        c2b = self._all(
            "SELECT * FROM c2b_payments WHERE status = 'completed' AND settled_at >= ?"
            " AND settled_at < ? ORDER BY settled_at",
            (start, end),
        )
        b2b = self._all(
            "SELECT * FROM b2b_payments WHERE result_code = 0 AND settles_at >= ?"
            " AND settles_at < ? ORDER BY settles_at",
            (start, end),
        )
        reversals = self._all(
            "SELECT * FROM reversals WHERE result_code = '0' AND settles_at >= ?"
            " AND settles_at < ? ORDER BY settles_at",
            (start, end),
        )
        return (
            [C2BRecord(**dict(r)) for r in c2b],
            [B2BRecord(**dict(r)) for r in b2b],
            [ReversalRecord(**dict(r)) for r in reversals],
        )

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
