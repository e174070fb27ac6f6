"""PayTrace's local Stellar network: ledgers, submission and history (a development tool).

One lock orders every submission: an envelope is looked up by hash (a resubmission
gets the original result and is never applied twice), checked against the open
ledger's state, applied and recorded in the open ledger. A timer closes the open
ledger (COMMIT) every `close_interval_s`, so many submissions share one ledger, and
only then are their submitters answered, as Horizon's synchronous submission does.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from stellar_sdk import Account, Keypair, TransactionBuilder

from app.sandboxes.stellar import history, store
from app.sandboxes.stellar.amounts import STROOPS_PER_UNIT, format_amount
from app.sandboxes.stellar.checks import Decoded, Rules, check_envelope, decode
from app.sandboxes.stellar.codes import Outcome, minimal_meta_xdr
from app.sandboxes.stellar.history import toid
from app.sandboxes.stellar.transactions import Applied, apply_envelope

DEFAULT_PASSPHRASE = "PayTrace Local Network ; development only"  # noqa: S105 - not a secret
BASE_FEE = 100  # stroops per operation
BASE_RESERVE = 5_000_000  # 0.5 XLM
TOTAL_COINS = 100_000_000_000 * STROOPS_PER_UNIT  # held by the root account at genesis
FRIENDBOT_STARTING_BALANCE = 10_000 * STROOPS_PER_UNIT
PROTOCOL_VERSION = 22


@dataclass(frozen=True)
class Submitted:
    """Where a submission stands: refused at once (`rejection`), or recorded in `ledger`
    (answered once that ledger has closed)."""

    hash: str
    envelope_xdr: str
    ledger: int | None = None
    rejection: Outcome | None = None


def root_keypair(passphrase: str) -> Keypair:
    """The network's root account, as standalone Stellar networks derive it."""
    return Keypair.from_raw_ed25519_seed(hashlib.sha256(passphrase.encode()).digest())


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LocalNetwork:
    """A Stellar network on one machine, persisted in `data_dir`: a development tool,
    never a stand-in for the real network's consensus. Thread-safe."""

    def __init__(
        self,
        data_dir: Path,
        *,
        passphrase: str = DEFAULT_PASSPHRASE,
        base_fee: int = BASE_FEE,
        base_reserve: int = BASE_RESERVE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = data_dir / store.DB_FILE
        self.passphrase = passphrase
        self.base_fee = base_fee
        self.base_reserve = base_reserve
        self.root = root_keypair(passphrase)
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = store.connect(self.db_path)
        try:
            self._conn.executescript(store.SCHEMA + history.PARTICIPANTS_SCHEMA)
            last = self._conn.execute("SELECT * FROM ledgers ORDER BY sequence DESC").fetchone()
            if last is None:
                last = self._genesis()
            self._check_passphrase()
            history.backfill_participants(self._conn, passphrase)
            self._last = dict(last)
            self._open()
        except sqlite3.OperationalError as exc:
            self._conn.close()
            # Most likely another network process holds the open ledger's write lock.
            raise RuntimeError(f"cannot open {self.db_path}: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

    @property
    def last_closed(self) -> int:
        """The sequence of the last closed ledger."""
        return self._last["sequence"]

    def _genesis(self):
        now = _iso(self._clock())
        genesis_hash = hashlib.sha256(f"genesis:{self.passphrase}".encode()).hexdigest()
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO ledgers VALUES (1, ?, ?, ?, 0, 0, 0, 0, ?)",
            (genesis_hash, "0" * 64, now, TOTAL_COINS),
        )
        state = store.LedgerState(conn, 1, self.base_reserve)
        state.put_account(store.Account(self.root.public_key, balance=TOTAL_COINS, seq_num=0))
        conn.execute("COMMIT")
        return conn.execute("SELECT * FROM ledgers WHERE sequence = 1").fetchone()

    def _check_passphrase(self) -> None:
        # A data directory belongs to one network: its root account must be this one's.
        found = self._conn.execute(
            "SELECT 1 FROM accounts WHERE account_id = ?", (self.root.public_key,)
        ).fetchone()
        if found is None:
            raise ValueError(f"{self.db_path} holds a network with another passphrase")

    def _open(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        self.open_seq = self._last["sequence"] + 1
        self._order = 0

    def _state(self) -> store.LedgerState:
        return store.LedgerState(self._conn, self.open_seq, self.base_reserve)

    def submit(self, envelope_xdr: str) -> Submitted:
        """Check and apply one envelope in the open ledger; raises MalformedEnvelope."""
        decoded = decode(envelope_xdr, self.passphrase)
        with self._lock:
            return self._submit_locked(decoded)

    def fund(self, address: str, starting_balance: int = FRIENDBOT_STARTING_BALANCE) -> Submitted:
        """Friendbot: create `address` with `starting_balance` stroops from the root account."""
        with self._lock:
            root = self._state().account(self.root.public_key)
            envelope = (
                TransactionBuilder(Account(root.account_id, root.seq_num), self.passphrase)
                .append_create_account_op(address, format_amount(starting_balance))
                .add_time_bounds(0, 0)
                .build()
            )
            envelope.sign(self.root)
            return self._submit_locked(decode(envelope.to_xdr(), self.passphrase))

    def _submit_locked(self, decoded: Decoded) -> Submitted:
        tx_hash = decoded.hash.hex()
        known = self._conn.execute(
            "SELECT ledger FROM transactions WHERE hash = ? OR inner_hash = ?", (tx_hash, tx_hash)
        ).fetchone()
        if known is not None:
            return Submitted(tx_hash, decoded.xdr, ledger=known["ledger"])
        state = self._state()
        rules = Rules(self.base_fee, now=int(self._clock()), ledger_seq=self.open_seq)
        rejection = check_envelope(state, decoded, rules)
        if rejection is not None:
            return Submitted(tx_hash, decoded.xdr, rejection=rejection)
        state.savepoint("paytrace_envelope")
        try:
            applied = apply_envelope(state, decoded, self.base_fee)
            self._record(decoded, applied)
        except BaseException:
            state.undo("paytrace_envelope")  # a bug here must not leave half a transaction
            raise
        state.release("paytrace_envelope")
        return Submitted(tx_hash, decoded.xdr, ledger=self.open_seq)

    def _record(self, decoded: Decoded, applied: Applied) -> None:
        self._order += 1
        outcome, ops = applied.outcome, len(decoded.inner.transaction.operations)
        self._conn.execute(
            "INSERT INTO transactions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                decoded.hash.hex(),
                decoded.inner_hash.hex() if decoded.fee_bump is not None else None,
                self.open_seq,
                self._order,
                int(outcome.successful),
                applied.source_account,
                applied.fee_account,
                outcome.fee_charged,
                ops,
                decoded.xdr,
                outcome.result_xdr(),
                minimal_meta_xdr(ops),
                json.dumps(outcome.result_codes()),
            ),
        )
        history.record_participants(
            self._conn,
            toid(self.open_seq, self._order),
            decoded.xdr,
            applied.fee_account,
            self.passphrase,
        )
        for index, record in applied.payments:
            self._conn.execute(
                "INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    toid(self.open_seq, self._order, index),
                    decoded.hash.hex(),
                    self.open_seq,
                    record.type,
                    record.source_account,
                    record.from_account,
                    record.from_muxed,
                    None if record.from_muxed_id is None else str(record.from_muxed_id),
                    record.to_account,
                    record.to_muxed,
                    None if record.to_muxed_id is None else str(record.to_muxed_id),
                    record.asset_code,
                    record.asset_issuer,
                    record.amount,
                ),
            )

    def close_ledger(self) -> int:
        """Close the open ledger (everything applied in it becomes durable and visible to
        readers) and open the next; returns the closed ledger's sequence."""
        with self._lock:
            return self._close_locked()

    def _close_locked(self) -> int:
        conn, seq = self._conn, self.open_seq
        closed_at = _iso(self._clock())
        rows = conn.execute(
            "SELECT hash, successful, fee_charged, operation_count FROM transactions"
            " WHERE ledger = ? ORDER BY application_order",
            (seq,),
        ).fetchall()
        digest = hashlib.sha256(f"{self._last['hash']}:{seq}:{closed_at}".encode())
        for row in rows:
            digest.update(bytes.fromhex(row["hash"]))
        successful = sum(row["successful"] for row in rows)
        conn.execute(
            "INSERT INTO ledgers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                digest.hexdigest(),
                self._last["hash"],
                closed_at,
                successful,
                len(rows) - successful,
                sum(row["operation_count"] for row in rows if row["successful"]),
                self._last["fee_pool"] + sum(row["fee_charged"] for row in rows),
                TOTAL_COINS,
            ),
        )
        conn.execute("COMMIT")
        closed = conn.execute("SELECT * FROM ledgers WHERE sequence = ?", (seq,)).fetchone()
        self._last = dict(closed)
        self._open()
        return seq

    def shutdown(self) -> None:
        """Close the open ledger (what was applied is kept) and release the database."""
        with self._lock:
            self._close_locked()
            self._conn.execute("ROLLBACK")  # the empty ledger just opened
            self._conn.close()
