"""The ledger: accounts, journal transactions and their legs, limits and fees.

Balances move only through legs (a trigger applies each leg to its account), and
the database refuses an unbalanced journal transaction at COMMIT and an overdrawn
user wallet at once. Driver errors are translated here into the few the service
layer acts on.

Long (over 300 lines) because it is the one home of the ledger's SQL: posting, locking,
limits and fees are read in the same statements, and splitting them would split
the transactions a transfer runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from datetime import date, datetime

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from app.db.repositories.outbox import OutboxMessage
from app.domain.accounts import ISSUER_KINDS, ISSUER_KINDS_SQL
from app.domain.records.ledger import StatementFilter, StatementLine


class KeyTaken(Exception):
    """The idempotency key (or the original of a reversal) was used by a concurrent call."""


class ReferenceTaken(Exception):
    """The random reference collided; draw another and retry."""


class Overdraft(Exception):
    """A leg would take an account below zero that may not go there."""


@contextmanager
def posting_errors() -> Iterator[None]:
    """Translate the driver's errors of a statement that posts a movement: KeyTaken,
    ReferenceTaken, Overdraft (each leaves the database transaction aborted)."""
    try:
        yield
    except psycopg2.errors.UniqueViolation as exc:
        if exc.diag.constraint_name == "journal_transactions_reference_key":
            raise ReferenceTaken from exc
        raise KeyTaken from exc
    except psycopg2.errors.CheckViolation as exc:
        if exc.diag.constraint_name == "ledger_accounts_non_negative":
            raise Overdraft from exc
        raise


@dataclass(frozen=True, slots=True)
class TierLimits:
    tier: int
    per_transaction: int
    daily: int
    rolling_30_days: int


@dataclass(frozen=True, slots=True)
class LockedAccount:
    id: int
    kind: str
    code: str | None
    user_id: int | None
    balance: int
    limits: TierLimits | None  # wallets only
    # The wallet's owner, for the SMS that confirm the movement (wallets only).
    full_name: str | None
    phone: str | None
    language: str | None


@dataclass(frozen=True, slots=True)
class Leg:
    account_id: int
    amount: int
    balance_after: int
    kind: str
    user_id: int | None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    id: int
    reference: str
    kind: str
    amount: int
    fee: int
    request_hash: str
    reverses_id: int | None
    channel: str
    initiator_user_id: int | None
    note: str | None
    created_at: datetime
    legs: tuple[Leg, ...]


@dataclass(frozen=True, slots=True)
class LedgerCheck:
    """The ledger's invariants, recomputed from every leg; all zero when it is sound."""

    sum_of_all_legs: int
    sum_of_all_balances: int
    negative_wallets: int
    balances_not_equal_to_legs: int
    unbalanced_transactions: int

    @property
    def sound(self) -> bool:
        return not any(astuple(self))


@dataclass(frozen=True, slots=True)
class Party:
    """A user on one side of a transfer, as the SMS to them are written."""

    user_id: int
    full_name: str
    phone: str
    language: str


@dataclass(frozen=True, slots=True)
class TransferParties:
    sender: Party | None  # None: no such user
    recipient: Party | None  # None: the phone is not registered
    fee: int | None  # None: no fee band covers the amount


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """An outbox message whose text waits for a balance known only under the lock:
    `parts` joined by the balance after the movement of `balance_of`'s wallet."""

    kind: str
    payload: dict  # without "message"
    dedupe_key: str
    parts: tuple[str, ...]
    balance_of: int  # a user id

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "payload": self.payload,
            "dedupe_key": self.dedupe_key,
            "parts": list(self.parts),
            "balance_of": self.balance_of,
        }


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    """What `ledger_transfer` answered (migration 0037 lists the outcomes)."""

    outcome: str
    transaction_id: int | None
    sender_balance: int | None  # after the transfer; before it on a refusal
    receiver_balance: int | None
    day_total: int | None  # the sender's outflows today and over 30 days (limits)
    rolling_total: int | None


_TRANSFER_SQL = """
    SELECT * FROM ledger_transfer(
        %(sender)s, %(recipient)s, %(phone)s, %(fees_code)s, %(amount)s, %(fee)s, %(key)s,
        %(hash)s, %(reference)s, %(channel)s, %(note)s, %(created_at)s, %(today)s,
        %(issuer_kinds)s::text[], %(messages)s::jsonb)
"""


_ENTRY_SQL = """
    SELECT t.id, t.reference, t.kind, t.amount, t.fee, t.request_hash, t.reverses_id,
           t.channel, t.initiator_user_id, t.note, t.created_at,
           l.account_id, l.amount, l.balance_after, a.kind, a.user_id
    FROM journal_transactions t
    JOIN journal_legs l ON l.transaction_id = t.id
    JOIN ledger_accounts a ON a.id = l.account_id
    WHERE {where}
    ORDER BY l.id
"""


_ACCOUNT_COLUMNS = """a.id, a.kind, a.code, a.user_id, a.balance,
       k.tier, k.per_transaction_limit, k.daily_limit, k.rolling_30_day_limit,
       u.full_name, u.phone, u.language"""
_ACCOUNT_FROM = """FROM ledger_accounts a
                LEFT JOIN users u ON u.id = a.user_id
                LEFT JOIN kyc_tiers k ON k.tier = u.kyc_tier"""


def _locked(row: tuple) -> LockedAccount:
    return LockedAccount(
        id=row[0],
        kind=row[1],
        code=row[2],
        user_id=row[3],
        balance=row[4],
        limits=TierLimits(*row[5:9]) if row[5] is not None else None,
        full_name=row[9],
        phone=row[10],
        language=row[11],
    )


# One statement for a whole posting (data-modifying CTEs all run, once each):
# each round trip saved is lock time saved on a hot account.
_POST_SQL = (
    """
    WITH tx AS (
        INSERT INTO journal_transactions
            (reference, kind, amount, fee, idempotency_key, request_hash, reverses_id,
             channel, initiator_user_id, note, created_at)
        VALUES (%(reference)s, %(kind)s, %(amount)s, %(fee)s, %(key)s, %(hash)s,
                %(reverses_id)s, %(channel)s, %(initiator)s, %(note)s, %(created_at)s)
        RETURNING id
    ), legs AS (
        INSERT INTO journal_legs (transaction_id, account_id, amount, balance_after)
        SELECT tx.id, leg.account_id, leg.amount, 0
        FROM tx, unnest(%(accounts)s::bigint[], %(amounts)s::bigint[])
                 WITH ORDINALITY AS leg (account_id, amount, n)
        ORDER BY leg.n
        RETURNING 1
    ), outflow AS (
        INSERT INTO account_outflows (account_id, day, amount, movements)
        SELECT %(out_account)s::bigint, %(out_day)s::date, %(out_amount)s::bigint, 1
        WHERE %(out_account)s::bigint IS NOT NULL
        ON CONFLICT (account_id, day) DO UPDATE
        SET amount = account_outflows.amount + EXCLUDED.amount,
            movements = account_outflows.movements + 1
        RETURNING 1
    ), parties AS (
        -- Where each leg's money lives on-chain (see stellar_settlements), netted.
        SELECT CASE WHEN a.kind = 'wallet' THEN a.id ELSE 0 END AS party,
               sum(leg.amount) AS net
        FROM unnest(%(accounts)s::bigint[], %(amounts)s::bigint[]) AS leg (account_id, amount)
        JOIN ledger_accounts a ON a.id = leg.account_id
        WHERE a.kind NOT IN """
    + ISSUER_KINDS_SQL
    + """
        GROUP BY 1
        HAVING sum(leg.amount) <> 0
    ), settlement AS (
        INSERT INTO stellar_settlements
            (transaction_id, payers, parties, status, origin, tx_hash, settled_at)
        SELECT tx.id,
               coalesce(array_agg(p.party ORDER BY p.party) FILTER (WHERE p.net < 0), '{}'),
               array_agg(p.party ORDER BY p.party),
               CASE WHEN %(on_chain_hash)s::text IS NULL THEN 'pending' ELSE 'settled' END,
               CASE WHEN %(on_chain_hash)s::text IS NULL THEN 'paytrace' ELSE 'incoming' END,
               %(on_chain_hash)s::text,
               CASE WHEN %(on_chain_hash)s::text IS NULL THEN NULL ELSE now() END
        FROM tx, parties p
        GROUP BY tx.id
        RETURNING 1
    ), messages AS (
        INSERT INTO outbox (kind, payload, dedupe_key)
        SELECT m.kind, m.payload, m.dedupe_key
        FROM unnest(%(m_kinds)s::text[], %(m_payloads)s::jsonb[], %(m_keys)s::text[])
                 AS m (kind, payload, dedupe_key)
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING 1
    )
    SELECT tx.id, (SELECT count(*) FROM legs), (SELECT count(*) FROM outflow),
           (SELECT count(*) FROM messages), (SELECT count(*) FROM settlement)
    FROM tx
"""
)


class LedgerRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn
        self._posted: list[str] = []  # kinds posted in this transaction, for the metrics

    def posted(self, kind: str) -> None:
        """Count a movement another repository's statement posted (a contribution)."""
        self._posted.append(kind)

    def take_posted(self) -> list[str]:
        """The kinds posted since the last call (the unit of work counts them once
        committed)."""
        posted, self._posted = self._posted, []
        return posted

    # ---- accounts -----------------------------------------------------------

    def open_wallet(self, user_id: int) -> int:
        """Create the user's wallet account (balance 0); returns its id."""
        with self._conn.cursor() as cur:
            cur.execute(
                "INSERT INTO ledger_accounts (kind, user_id) VALUES ('wallet', %(user_id)s)"
                " RETURNING id",
                {"user_id": user_id},
            )
            return cur.fetchone()[0]

    def accounts(
        self,
        *,
        user_ids: list[int] | None = None,
        codes: list[str] | None = None,
        account_ids: list[int] | None = None,
        for_update: bool = True,
    ) -> list[LockedAccount]:
        """Users' wallets, named system accounts or accounts by id, in the ledger's
        lock order: (locked_last, id), migration 0058.

        for_update locks them: one fixed order for every caller is what makes
        deadlocks impossible.
        """
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT {_ACCOUNT_COLUMNS}
                {_ACCOUNT_FROM}
                WHERE a.user_id = ANY(%(user_ids)s) OR a.code = ANY(%(codes)s)
                   OR a.id = ANY(%(ids)s)
                ORDER BY a.locked_last, a.id
                """
                + (" FOR UPDATE OF a" if for_update else ""),
                {
                    "user_ids": user_ids or [],
                    "codes": codes or [],
                    "ids": account_ids or [],
                },
            )
            rows = cur.fetchall()
        return [_locked(row) for row in rows]

    def transfer_parties(
        self, *, sender_user_id: int, recipient_phone: str, fee_kind: str, amount: int
    ) -> TransferParties:
        """Who a transfer is between and its fee, read without a lock (the SMS to both
        are written from it): the posting checks again under lock what must hold.
        A function (migration 0055), so its plan is kept for the session."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT * FROM ledger_transfer_parties(%(sender)s, %(phone)s, %(fee_kind)s,"
                " %(amount)s)",
                {
                    "sender": sender_user_id,
                    "phone": recipient_phone,
                    "fee_kind": fee_kind,
                    "amount": amount,
                },
            )
            row = cur.fetchone()
        sender = Party(*row[0:4]) if row[0] is not None else None
        recipient = Party(*row[4:8]) if row[4] is not None else None
        return TransferParties(sender, recipient, row[8])

    def post_transfer(
        self,
        *,
        sender_user_id: int,
        recipient: Party,
        fees_code: str,
        amount: int,
        fee: int | None,
        idempotency_key: str,
        request_hash: str,
        reference: str,
        channel: str,
        note: str | None,
        created_at: datetime,
        today: date,
        messages: tuple[PendingMessage, ...],
    ) -> TransferOutcome:
        """Check and post a transfer in one call of `ledger_transfer` (migration 0037):
        the key, the limits, the fee band and the sender's balance checked under the
        accounts' locks, then the journal transaction, its legs, the outflow, the
        settlement row and the SMS (each `PendingMessage`'s text completed with its
        reader's balance after the transfer). A refusal comes back as the outcome,
        with the transaction still to roll back.

        Raises KeyTaken, ReferenceTaken or Overdraft (as `post`); each leaves the
        database transaction aborted, so the caller must roll back.
        """
        params = {
            "sender": sender_user_id,
            "recipient": recipient.user_id,
            "phone": recipient.phone,
            "fees_code": fees_code,
            "amount": amount,
            "fee": fee,
            "key": idempotency_key,
            "hash": request_hash,
            "reference": reference,
            "channel": channel,
            "note": note,
            "created_at": created_at,
            "today": today,
            "issuer_kinds": list(ISSUER_KINDS),
            "messages": json.dumps([m.as_json() for m in messages]),
        }
        with posting_errors(), self._conn.cursor() as cur:
            cur.execute(_TRANSFER_SQL, params)
            outcome = TransferOutcome(*cur.fetchone())
        if outcome.outcome == "posted":
            self._posted.append("transfer")
        return outcome

    def key_and_outflows(
        self, key: str, account_id: int, today: date
    ) -> tuple[int | None, int, int]:
        """The transaction already holding key (or None), and the account's outflows
        today and over the 30 days ending today: read after the locks, so exact."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT (SELECT id FROM journal_transactions WHERE idempotency_key = %(key)s),
                       coalesce(sum(amount) FILTER (WHERE day = %(today)s), 0),
                       coalesce(sum(amount), 0)
                FROM account_outflows
                WHERE account_id = %(account_id)s AND day > %(today)s - 30
                """,
                {"key": key, "account_id": account_id, "today": today},
            )
            earlier, day_total, rolling_total = cur.fetchone()
        return earlier, int(day_total), int(rolling_total)

    def give_back_outflow(self, account_id: int, day: date, amount: int) -> None:
        """A released hold (a withdrawal, a bill) no longer counts against the limits of its day."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                UPDATE account_outflows
                SET amount = greatest(amount - %(amount)s, 0),
                    movements = greatest(movements - 1, 0)
                WHERE account_id = %(account_id)s AND day = %(day)s
                """,
                {"account_id": account_id, "day": day, "amount": amount},
            )

    def wallet_balance(self, user_id: int) -> int | None:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT balance FROM ledger_accounts WHERE user_id = %(user_id)s",
                {"user_id": user_id},
            )
            row = cur.fetchone()
        return row[0] if row else None

    # ---- limits and fees --------------------------------------------------------

    def fee(self, kind: str, amount: int) -> int | None:
        """The fee for an amount of a movement kind, or None when no band covers it."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT fee FROM fee_bands
                WHERE kind = %(kind)s AND %(amount)s BETWEEN min_amount AND max_amount
                """,
                {"kind": kind, "amount": amount},
            )
            row = cur.fetchone()
        return row[0] if row else None

    def tier_limits(self, user_id: int) -> TierLimits | None:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT k.tier, k.per_transaction_limit, k.daily_limit, k.rolling_30_day_limit
                FROM users u JOIN kyc_tiers k ON k.tier = u.kyc_tier
                WHERE u.id = %(user_id)s
                """,
                {"user_id": user_id},
            )
            row = cur.fetchone()
        return TierLimits(*row) if row else None

    def outflows(self, account_id: int, today: date) -> tuple[int, int]:
        """Money out of an account today and over the 30 days ending today, in cents."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT coalesce(sum(amount) FILTER (WHERE day = %(today)s), 0),
                       coalesce(sum(amount), 0)
                FROM account_outflows
                WHERE account_id = %(account_id)s AND day > %(today)s - 30
                """,
                {"account_id": account_id, "today": today},
            )
            day_total, rolling_total = cur.fetchone()
        return int(day_total), int(rolling_total)

    # ---- journal --------------------------------------------------------------------

    def post(
        self,
        *,
        reference: str,
        kind: str,
        amount: int,
        fee: int,
        idempotency_key: str,
        request_hash: str,
        legs: list[tuple[int, int]],
        channel: str,
        created_at: datetime,
        initiator_user_id: int | None = None,
        reverses_id: int | None = None,
        note: str | None = None,
        outflow: tuple[int, date, int] | None = None,
        messages: tuple[OutboxMessage, ...] = (),
        on_chain_hash: str | None = None,
    ) -> int:
        """Write a journal transaction, its legs, the outflow it counts against a
        limit (account, day, amount), its outbox messages and its settlement row
        (the movement between on-chain parties still to be mirrored on Stellar; or,
        with `on_chain_hash`, already mirrored by that incoming transaction): one
        statement, one round trip. Returns the transaction id.

        Raises KeyTaken, ReferenceTaken or Overdraft; each leaves the database
        transaction aborted, so the caller must roll back.
        """
        out_account, out_day, out_amount = outflow or (None, None, None)
        params = {
            "reference": reference,
            "kind": kind,
            "amount": amount,
            "fee": fee,
            "key": idempotency_key,
            "hash": request_hash,
            "reverses_id": reverses_id,
            "channel": channel,
            "initiator": initiator_user_id,
            "note": note,
            "created_at": created_at,
            "accounts": [account for account, _ in legs],
            "amounts": [leg_amount for _, leg_amount in legs],
            "out_account": out_account,
            "out_day": out_day,
            "out_amount": out_amount,
            "m_kinds": [m.kind for m in messages],
            "m_payloads": [json.dumps(m.payload) for m in messages],
            "m_keys": [m.dedupe_key for m in messages],
            "on_chain_hash": on_chain_hash,
        }
        with posting_errors(), self._conn.cursor() as cur:
            cur.execute(_POST_SQL, params)
            transaction_id = cur.fetchone()[0]
        self._posted.append(kind)
        return transaction_id

    def latest_keyed(self, key_part: str) -> datetime | None:
        """When the newest journal transaction whose idempotency key holds `key_part` was
        made (the demo's resumption point); a full scan, for development databases."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT max(created_at) FROM journal_transactions"
                " WHERE strpos(idempotency_key, %s) > 0",
                (key_part,),
            )
            return cur.fetchone()[0]

    def find(
        self,
        *,
        key: str | None = None,
        transaction_id: int | None = None,
        reference: str | None = None,
    ) -> JournalEntry | None:
        """A journal transaction with its legs, by idempotency key, reference or id."""
        if key is not None:
            where, params = "t.idempotency_key = %(v)s", {"v": key}
        elif reference is not None:
            where, params = "t.reference = %(v)s", {"v": reference}
        else:
            where, params = "t.id = %(v)s", {"v": transaction_id}
        return self._entry(where, params)

    def reversal_of(self, transaction_id: int) -> JournalEntry | None:
        return self._entry("t.reverses_id = %(v)s", {"v": transaction_id})

    def _entry(self, where: str, params: dict) -> JournalEntry | None:
        with self._conn.cursor() as cur:
            cur.execute(_ENTRY_SQL.format(where=where), params)
            rows = cur.fetchall()
        if not rows:
            return None
        head = rows[0]
        return JournalEntry(
            *head[:11],
            legs=tuple(Leg(*row[11:16]) for row in rows),
        )

    def statement(
        self, account_id: int, limit: int, where: StatementFilter | None = None
    ) -> list[StatementLine]:
        """The account's movements matching `where`, newest first, each with its counterparty
        and its settlement on Stellar."""
        where = where or StatementFilter()
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT t.id, t.reference, t.kind, t.created_at, l.amount, l.balance_after,
                       other.full_name, other.phone, l.id,
                       CASE WHEN t.kind IN ('transfer', 'withdrawal', 'bill_hold') AND l.amount < 0
                            THEN t.fee ELSE 0 END,
                       t.note, s.status, s.tx_hash, s.ledger
                FROM journal_legs l
                JOIN journal_transactions t ON t.id = l.transaction_id
                LEFT JOIN stellar_settlements s ON s.transaction_id = t.id
                LEFT JOIN LATERAL (
                    SELECT u.full_name, u.phone
                    FROM journal_legs o
                    JOIN ledger_accounts a ON a.id = o.account_id
                    JOIN users u ON u.id = a.user_id
                    WHERE o.transaction_id = l.transaction_id AND o.account_id <> l.account_id
                    ORDER BY o.id LIMIT 1
                ) other ON true
                WHERE l.account_id = %(account_id)s
                  AND (%(before)s::bigint IS NULL OR l.id < %(before)s::bigint)
                  AND (%(since)s::timestamptz IS NULL OR t.created_at >= %(since)s::timestamptz)
                  AND (%(until)s::timestamptz IS NULL OR t.created_at < %(until)s::timestamptz)
                  AND (cardinality(%(kinds)s::text[]) = 0 OR t.kind = ANY(%(kinds)s::text[]))
                  AND (%(direction)s::text IS NULL OR (l.amount > 0) = (%(direction)s = 'in'))
                ORDER BY l.id DESC
                LIMIT %(limit)s
                """,
                {
                    "account_id": account_id,
                    "limit": limit,
                    "before": where.before_leg_id,
                    "since": where.since,
                    "until": where.until,
                    "kinds": list(where.kinds),
                    "direction": where.direction,
                },
            )
            return [StatementLine(*row) for row in cur.fetchall()]

    def wallet_account_id(self, user_id: int) -> int | None:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT id FROM ledger_accounts WHERE user_id = %(user_id)s",
                {"user_id": user_id},
            )
            row = cur.fetchone()
        return row[0] if row else None

    def check(self) -> LedgerCheck:
        """Recompute the invariants from every leg: a full scan, for operators and tests."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT
                  (SELECT coalesce(sum(amount), 0) FROM journal_legs),
                  (SELECT coalesce(sum(balance), 0) FROM ledger_accounts),
                  (SELECT count(*) FROM ledger_accounts
                   WHERE balance < 0
                     AND kind NOT IN {ISSUER_KINDS_SQL}),
                  (SELECT count(*) FROM ledger_accounts a
                   LEFT JOIN (SELECT account_id, sum(amount) AS total FROM journal_legs
                              GROUP BY account_id) l ON l.account_id = a.id
                   WHERE a.balance <> coalesce(l.total, 0)),
                  (SELECT count(*) FROM (SELECT transaction_id FROM journal_legs
                                         GROUP BY transaction_id HAVING sum(amount) <> 0) t)
                """
            )
            return LedgerCheck(*(int(value) for value in cur.fetchone()))
