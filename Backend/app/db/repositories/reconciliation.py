"""Reconciliation: each party's side of the ledger, its movements not yet settled on
Stellar, and the reports of past runs.

See migration 0006 for parties: a wallet's ledger account is its user's Stellar
account (the party is the account id), every other account that may not go below
zero is the treasury (party 0), and the float, suspense and clearing accounts are the
issuer, which is no party. Reads are meant to run inside `snapshot()`, so a party's
balance and its unsettled movements come from one consistent view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg2.extensions

from app.domain.accounts import ISSUER_KINDS, ISSUER_KINDS_SQL
from app.domain.records.settlement import StoredReport

TREASURY_PARTY = 0

# Where a ledger account's money lives on-chain (NULL: the issuer), as the settlement
# outbox (LedgerRepository.post) maps it.
_PARTY = f"""CASE WHEN a.kind = 'wallet' THEN a.id
                 WHEN a.kind IN {ISSUER_KINDS_SQL} THEN NULL
                 ELSE 0 END"""


@dataclass(frozen=True, slots=True)
class WalletParty:
    wallet_id: int
    party: int  # the wallet's ledger account id
    address: str
    balance: int  # cents


@dataclass(frozen=True, slots=True)
class UnsettledEffect:
    """What one journal transaction not yet settled on Stellar does to one party."""

    party: int
    transaction_id: int
    reference: str
    kind: str
    status: str  # pending | submitted | failed
    effect: int  # cents, signed


@dataclass(frozen=True, slots=True)
class PartyBacklog:
    """A party's movements not yet settled: the first few, and the count and sum of all."""

    listed: tuple[UnsettledEffect, ...]
    movements: int
    total: int  # cents


@dataclass(frozen=True, slots=True)
class InactiveWallet:
    party: int
    address: str
    activation_status: str  # pending | failed
    balance: int  # cents


@dataclass(frozen=True, slots=True)
class InactiveSummary:
    wallets: int
    with_balance: int
    balance: int  # cents, summed over every wallet not yet active


class ReconciliationRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def snapshot(self) -> None:
        """Every later read of this transaction sees one moment (first statement only)."""
        with self._conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    # ---- parties ------------------------------------------------------------------

    def active_wallets(self, after_wallet_id: int, limit: int) -> list[WalletParty]:
        """The next page (by wallet id) of wallets whose Stellar account is active."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT w.id, a.id, w.stellar_address, a.balance
                FROM wallets w JOIN ledger_accounts a ON a.user_id = w.user_id
                WHERE w.activation_status = 'active' AND w.id > %(after)s
                ORDER BY w.id LIMIT %(limit)s
                """,
                {"after": after_wallet_id, "limit": limit},
            )
            return [WalletParty(*row) for row in cur.fetchall()]

    def wallets_by_party(self, parties: list[int]) -> list[WalletParty]:
        """Active wallets by party (ledger account id), in wallet order."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT w.id, a.id, w.stellar_address, a.balance
                FROM wallets w JOIN ledger_accounts a ON a.user_id = w.user_id
                WHERE w.activation_status = 'active' AND a.id = ANY(%(parties)s)
                ORDER BY w.id
                """,
                {"parties": parties},
            )
            return [WalletParty(*row) for row in cur.fetchall()]

    def treasury_balance(self) -> int:
        """The summed balance of every account whose money the treasury holds."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT coalesce(sum(balance), 0) FROM ledger_accounts"
                " WHERE kind <> 'wallet' AND kind <> ALL(%(issuer)s)",
                {"issuer": list(ISSUER_KINDS)},
            )
            return int(cur.fetchone()[0])

    def issuer_side_balance(self) -> int:
        """The summed balance of the float, suspense and clearing accounts (cents)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT coalesce(sum(balance), 0) FROM ledger_accounts"
                " WHERE kind = ANY(%(issuer)s)",
                {"issuer": list(ISSUER_KINDS)},
            )
            return int(cur.fetchone()[0])

    def unsettled(self, parties: list[int], listed: int) -> dict[int, PartyBacklog]:
        """Each party's journal transactions not yet settled on Stellar and their net
        effect on it: the oldest `listed` of them, and the count and sum of all.
        Parties with none are absent."""
        with self._conn.cursor() as cur:
            cur.execute(
                f"""
                WITH effects AS (
                    SELECT {_PARTY} AS party, s.transaction_id, s.status,
                           sum(l.amount) AS effect
                    FROM stellar_settlements s
                    JOIN journal_legs l ON l.transaction_id = s.transaction_id
                    JOIN ledger_accounts a ON a.id = l.account_id
                    WHERE s.status <> 'settled' AND s.parties && %(parties)s::bigint[]
                    GROUP BY 1, s.transaction_id, s.status
                    HAVING sum(l.amount) <> 0
                ), ranked AS (
                    SELECT e.*,
                           row_number() OVER (PARTITION BY party ORDER BY transaction_id) AS n,
                           count(*) OVER (PARTITION BY party) AS movements,
                           sum(effect) OVER (PARTITION BY party) AS total
                    FROM effects e
                    WHERE party = ANY(%(parties)s::bigint[])
                )
                SELECT r.party, r.transaction_id, t.reference, t.kind, r.status, r.effect,
                       r.movements, r.total
                FROM ranked r JOIN journal_transactions t ON t.id = r.transaction_id
                WHERE r.n <= %(listed)s
                ORDER BY r.party, r.transaction_id
                """,
                {"parties": parties, "listed": max(listed, 1)},
            )
            rows = cur.fetchall()
        found: dict[int, tuple[list[UnsettledEffect], int, int]] = {}
        for party, tx_id, reference, kind, status, effect, movements, total in rows:
            effects, _, _ = found.setdefault(party, ([], int(movements), int(total)))
            if len(effects) < listed:
                effects.append(UnsettledEffect(party, tx_id, reference, kind, status, int(effect)))
        return {
            party: PartyBacklog(tuple(effects), movements, total)
            for party, (effects, movements, total) in found.items()
        }

    # ---- wallets not yet active ------------------------------------------------------

    def inactive_summary(self) -> InactiveSummary:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT count(*), count(*) FILTER (WHERE a.balance <> 0),
                       coalesce(sum(a.balance), 0)
                FROM wallets w JOIN ledger_accounts a ON a.user_id = w.user_id
                WHERE w.activation_status <> 'active'
                """
            )
            wallets, with_balance, balance = cur.fetchone()
        return InactiveSummary(int(wallets), int(with_balance), int(balance))

    def inactive_with_balance(self, limit: int) -> list[InactiveWallet]:
        """Wallets not yet active that hold money in the ledger, oldest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT a.id, w.stellar_address, w.activation_status, a.balance
                FROM wallets w JOIN ledger_accounts a ON a.user_id = w.user_id
                WHERE w.activation_status <> 'active' AND a.balance <> 0
                ORDER BY w.id LIMIT %(limit)s
                """,
                {"limit": limit},
            )
            return [InactiveWallet(*row) for row in cur.fetchall()]

    # ---- reports ---------------------------------------------------------------------

    def add_report(
        self,
        *,
        started_at: datetime,
        finished_at: datetime,
        accounts: int,
        drifts: int,
        report: dict,
    ) -> int:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO reconciliation_reports
                    (started_at, finished_at, accounts, drifts, report)
                VALUES (%(started)s, %(finished)s, %(accounts)s, %(drifts)s, %(report)s)
                RETURNING id
                """,
                {
                    "started": started_at,
                    "finished": finished_at,
                    "accounts": accounts,
                    "drifts": drifts,
                    "report": json.dumps(report),
                },
            )
            return cur.fetchone()[0]

    def latest_report(self) -> StoredReport | None:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT id, started_at, finished_at, accounts, drifts, report"
                " FROM reconciliation_reports ORDER BY id DESC LIMIT 1"
            )
            row = cur.fetchone()
        return StoredReport(*row) if row else None

    def daily_runs(self, since: datetime, offset: timedelta) -> list[tuple]:
        """Per day at UTC+offset from since, newest first: (day, runs, drifts of the day's last
        run, most drifts of any run, accounts of the last run)."""
        with self._conn.cursor() as cur:
            cur.execute(
                """
                SELECT (finished_at AT TIME ZONE 'UTC' + %(offset)s)::date AS day, count(*),
                       (array_agg(drifts ORDER BY id DESC))[1], max(drifts),
                       (array_agg(accounts ORDER BY id DESC))[1]
                FROM reconciliation_reports WHERE finished_at >= %(since)s
                GROUP BY day ORDER BY day DESC
                """,
                {"since": since, "offset": offset},
            )
            return [tuple(row) for row in cur.fetchall()]

    def last_finished_at(self) -> datetime | None:
        with self._conn.cursor() as cur:
            cur.execute("SELECT max(finished_at) FROM reconciliation_reports")
            return cur.fetchone()[0]
