"""Settlement rows: which journal transactions still have to be mirrored on Stellar.

See migration 0006 for the model: parties, payers, and the order they keep.

Long (over 300 lines) because it is the one home of settlement SQL: claiming,
ordering by payer and recording each envelope's fate read the same rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import psycopg2.extensions

from app.db.repositories.stellar import SignedEnvelope
from app.domain.accounts import ISSUER_KINDS_SQL
from app.domain.records.settlement import SettlementState

TREASURY_PARTY = 0


@dataclass(frozen=True, slots=True)
class SettlementLeg:
    """One leg of a movement, with where its money lives on-chain."""

    amount: int  # cents, signed as in the journal
    party: int | None  # wallet ledger account id, TREASURY_PARTY, or None: the issuer
    address: str | None  # the wallet's Stellar address (wallets only)
    active: bool  # the wallet's account exists on-chain (always True for system sides)


@dataclass(frozen=True, slots=True)
class OpenSettlement:
    transaction_id: int
    status: str  # pending | submitted | failed
    payers: frozenset[int]
    parties: frozenset[int]
    legs: tuple[SettlementLeg, ...]
    envelope_id: int | None

    @property
    def ready(self) -> bool:
        """Every wallet it touches has its account on-chain."""
        return all(leg.active for leg in self.legs)


_OPEN_SQL = (
    """
    SELECT s.transaction_id, s.status, s.payers, s.parties, s.envelope_id,
           l.amount,
           CASE WHEN a.kind = 'wallet' THEN a.id
                WHEN a.kind IN """
    + ISSUER_KINDS_SQL
    + """ THEN NULL
                ELSE 0 END,
           w.stellar_address,
           a.kind <> 'wallet' OR w.activation_status = 'active'
    FROM stellar_settlements s
    JOIN journal_legs l ON l.transaction_id = s.transaction_id
    JOIN ledger_accounts a ON a.id = l.account_id
    LEFT JOIN wallets w ON w.user_id = a.user_id
    WHERE {where}
    ORDER BY s.transaction_id, l.id
"""
)


def _group(rows: list[tuple]) -> list[OpenSettlement]:
    grouped: dict[int, OpenSettlement] = {}
    legs: dict[int, list[SettlementLeg]] = {}
    for tx_id, status, payers, parties, envelope_id, amount, party, address, active in rows:
        if tx_id not in grouped:
            grouped[tx_id] = OpenSettlement(
                tx_id, status, frozenset(payers), frozenset(parties), (), envelope_id
            )
            legs[tx_id] = []
        legs[tx_id].append(SettlementLeg(amount, party, address, bool(active)))
    return [
        OpenSettlement(
            s.transaction_id, s.status, s.payers, s.parties, tuple(legs[i]), s.envelope_id
        )
        for i, s in grouped.items()
    ]


_STATE_SQL = """
    SELECT s.transaction_id, t.reference, t.kind, t.amount, t.fee, t.created_at,
           s.status, s.origin, s.tx_hash, s.ledger, s.last_error, e.tx_hash, s.settled_at
    FROM stellar_settlements s
    JOIN journal_transactions t ON t.id = s.transaction_id
    LEFT JOIN stellar_transactions e ON e.id = s.envelope_id
"""


class SettlementRepository:
    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        self._conn = conn

    def pending(self, limit: int) -> list[OpenSettlement]:
        """The oldest pending movements, in journal order, with their legs."""
        with self._conn.cursor() as cur:
            cur.execute(
                _OPEN_SQL.format(
                    where="s.transaction_id IN (SELECT transaction_id FROM stellar_settlements"
                    " WHERE status = 'pending' ORDER BY transaction_id LIMIT %(limit)s)"
                ),
                {"limit": limit},
            )
            return _group(cur.fetchall())

    def of_envelope(self, envelope_id: int) -> list[OpenSettlement]:
        """The movements an envelope carries, in journal (and operation) order."""
        with self._conn.cursor() as cur:
            cur.execute(_OPEN_SQL.format(where="s.envelope_id = %(id)s"), {"id": envelope_id})
            return _group(cur.fetchall())

    def blocking_parties(self) -> set[int]:
        """Parties of movements submitted and not yet settled, or parked as failed:
        no later movement spending from them may go ahead."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT DISTINCT unnest(parties) FROM stellar_settlements"
                " WHERE status IN ('submitted', 'failed')"
            )
            return {row[0] for row in cur.fetchall()}

    def signed_envelopes(self) -> list[tuple[str, SignedEnvelope]]:
        """The settler's envelopes signed and not yet known applied (after a restart),
        with their purpose ('settlement' or 'activations')."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT purpose, id, outbox_id, source, sequence, tx_hash, envelope_xdr,"
                " max_time, status, ledger FROM stellar_transactions"
                " WHERE purpose IN ('settlement', 'activations') AND status = 'signed'"
                " ORDER BY id"
            )
            return [(row[0], SignedEnvelope(*row[1:])) for row in cur.fetchall()]

    def add_envelope(
        self,
        *,
        source: str,
        sequence: int,
        tx_hash: str,
        envelope_xdr: str,
        max_time: datetime,
        purpose: str = "settlement",
    ) -> int:
        with self._conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO stellar_transactions
                    (purpose, source, sequence, tx_hash, envelope_xdr, max_time)
                VALUES (%(purpose)s, %(source)s, %(sequence)s, %(hash)s, %(xdr)s, %(max_time)s)
                RETURNING id
                """,
                {
                    "purpose": purpose,
                    "source": source,
                    "sequence": sequence,
                    "hash": tx_hash,
                    "xdr": envelope_xdr,
                    "max_time": max_time,
                },
            )
            return cur.fetchone()[0]

    # ---- activations --------------------------------------------------------------------

    def pending_activations(self, limit: int) -> list[tuple[str, str]]:
        """(address, encrypted seed) of wallets waiting for their account on-chain, with
        no envelope in flight, oldest first."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT stellar_address, stellar_secret_ct FROM wallets"
                " WHERE activation_status = 'pending' AND activation_envelope_id IS NULL"
                " ORDER BY id LIMIT %(limit)s",
                {"limit": limit},
            )
            return cur.fetchall()

    def mark_activating(self, addresses: list[str], envelope_id: int) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE wallets SET activation_envelope_id = %(e)s"
                " WHERE stellar_address = ANY(%(addresses)s) AND activation_status = 'pending'"
                " AND activation_envelope_id IS NULL",
                {"e": envelope_id, "addresses": addresses},
            )
            if cur.rowcount != len(addresses):
                raise RuntimeError("a wallet changed under the settler")

    def activating(self, envelope_id: int) -> list[str]:
        """The wallets an activation envelope carries, in operation order."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT stellar_address FROM wallets WHERE activation_envelope_id = %(e)s"
                " ORDER BY id",
                {"e": envelope_id},
            )
            return [row[0] for row in cur.fetchall()]

    def finish_activations(
        self,
        envelope_id: int,
        envelope_status: str,
        *,
        ledger: int | None = None,
        active: list[str] = (),
        failed: list[str] = (),
        result_codes: dict | None = None,
    ) -> None:
        """Record an activation envelope's fate: `active` wallets are on-chain, `failed`
        ones are parked for an operator, the rest wait for another envelope."""
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE stellar_transactions SET status = %(status)s, ledger = %(ledger)s,"
                " result_codes = %(codes)s, updated_at = now() WHERE id = %(e)s",
                {
                    "e": envelope_id,
                    "status": envelope_status,
                    "ledger": ledger,
                    "codes": json.dumps(result_codes) if result_codes else None,
                },
            )
            cur.execute(
                "UPDATE wallets SET activation_envelope_id = NULL,"
                " activation_status = CASE"
                "   WHEN stellar_address = ANY(%(active)s) THEN 'active'"
                "   WHEN stellar_address = ANY(%(failed)s) THEN 'failed'"
                "   ELSE activation_status END"
                " WHERE activation_envelope_id = %(e)s",
                {"e": envelope_id, "active": list(active), "failed": list(failed)},
            )

    def mark_submitted(self, transaction_ids: list[int], envelope_id: int) -> None:
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE stellar_settlements SET status = 'submitted', envelope_id = %(e)s,"
                " last_error = NULL WHERE transaction_id = ANY(%(ids)s) AND status = 'pending'",
                {"ids": transaction_ids, "e": envelope_id},
            )
            if cur.rowcount != len(transaction_ids):
                raise RuntimeError("a settlement row changed under the settler")

    def mark_settled(self, envelope_id: int, *, tx_hash: str, ledger: int) -> int:
        """The envelope applied: its envelope row and its movements; returns how many."""
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE stellar_transactions SET status = 'applied', ledger = %(ledger)s,"
                " updated_at = now() WHERE id = %(e)s",
                {"e": envelope_id, "ledger": ledger},
            )
            cur.execute(
                "UPDATE stellar_settlements SET status = 'settled', tx_hash = %(hash)s,"
                " ledger = %(ledger)s, settled_at = now(), last_error = NULL"
                " WHERE envelope_id = %(e)s AND status = 'submitted'",
                {"e": envelope_id, "hash": tx_hash, "ledger": ledger},
            )
            return cur.rowcount

    def release(
        self,
        envelope_id: int,
        envelope_status: str,
        *,
        failed: dict[int, str] | None = None,
        result_codes: dict | None = None,
    ) -> None:
        """The envelope will never apply ('dead' or 'failed'): its movements go back to
        'pending' to be built again, except those in `failed` (id -> why), parked."""
        failed = failed or {}
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE stellar_transactions SET status = %(status)s, result_codes = %(codes)s,"
                " updated_at = now() WHERE id = %(e)s",
                {
                    "e": envelope_id,
                    "status": envelope_status,
                    "codes": json.dumps(result_codes) if result_codes else None,
                },
            )
            cur.execute(
                "UPDATE stellar_settlements SET status = 'failed', last_error = f.why"
                " FROM unnest(%(ids)s::bigint[], %(whys)s::text[]) AS f (id, why)"
                " WHERE transaction_id = f.id AND envelope_id = %(e)s AND status = 'submitted'",
                {"e": envelope_id, "ids": list(failed), "whys": list(failed.values())},
            )
            cur.execute(
                "UPDATE stellar_settlements SET status = 'pending', envelope_id = NULL"
                " WHERE envelope_id = %(e)s AND status = 'submitted'",
                {"e": envelope_id},
            )

    def status_of(self, transaction_id: int) -> tuple[str, str | None] | None:
        """A movement's settlement status and Stellar hash, or None if it has none."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT status, tx_hash FROM stellar_settlements WHERE transaction_id = %(id)s",
                {"id": transaction_id},
            )
            row = cur.fetchone()
        return (row[0], row[1]) if row else None

    def mark_settled_without_payment(self, transaction_ids: list[int]) -> None:
        """Movements whose parties' nets need no payment at all."""
        with self._conn.cursor() as cur:
            cur.execute(
                "UPDATE stellar_settlements SET status = 'settled', settled_at = now()"
                " WHERE transaction_id = ANY(%(ids)s) AND status = 'pending'",
                {"ids": transaction_ids},
            )

    def wallet_secrets(self, addresses: list[str]) -> dict[str, str]:
        """Encrypted seeds of the wallets at these addresses (decrypted by the signer)."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT stellar_address, stellar_secret_ct FROM wallets"
                " WHERE stellar_address = ANY(%(addresses)s)",
                {"addresses": addresses},
            )
            return dict(cur.fetchall())

    def unsettled_count(self) -> int:
        with self._conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM stellar_settlements WHERE status <> 'settled'")
            return cur.fetchone()[0]

    # ---- operators ----------------------------------------------------------------------

    def state(self, transaction_id: int) -> SettlementState | None:
        """A journal transaction's settlement, or None: it moves nothing on-chain."""
        with self._conn.cursor() as cur:
            cur.execute(_STATE_SQL + " WHERE s.transaction_id = %(id)s", {"id": transaction_id})
            row = cur.fetchone()
        return SettlementState(*row) if row else None

    def unsettled_page(self, status: str, limit: int, after: int | None) -> list[SettlementState]:
        """Up to `limit` settlements in `status` (not 'settled'), in journal order (oldest
        first), after the journal transaction `after`."""
        with self._conn.cursor() as cur:
            cur.execute(
                _STATE_SQL + " WHERE s.status = %(status)s AND s.status <> 'settled'"
                " AND s.transaction_id > %(after)s ORDER BY s.transaction_id LIMIT %(limit)s",
                {"status": status, "after": after or 0, "limit": limit},
            )
            return [SettlementState(*row) for row in cur.fetchall()]

    def retry(self, transaction_id: int, *, refused_envelope_id: int | None) -> bool:
        """A parked ('failed') settlement back to 'pending', without its refused envelope:
        the settler builds a new one. False if it was not 'failed', or no longer carries
        `refused_envelope_id` (the envelope the caller found dead on the network).
        last_error stays until the new envelope is signed."""
        with self._conn.cursor() as cur:
            # Whether the refused envelope could still apply is the network's to say
            # (app/services/settlement_expiry.py), never this database's clock.
            cur.execute(
                "UPDATE stellar_settlements SET status = 'pending', envelope_id = NULL"
                " WHERE transaction_id = %(id)s AND status = 'failed'"
                " AND envelope_id IS NOT DISTINCT FROM %(envelope)s",
                {"id": transaction_id, "envelope": refused_envelope_id},
            )
            return cur.rowcount == 1

    def refused_envelope(self, transaction_id: int) -> SignedEnvelope | None:
        """The envelope a parked settlement was refused in, if it has one."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT e.id, e.outbox_id, e.source, e.sequence, e.tx_hash, e.envelope_xdr,"
                " e.max_time, e.status, e.ledger FROM stellar_settlements s"
                " JOIN stellar_transactions e ON e.id = s.envelope_id"
                " WHERE s.transaction_id = %(id)s AND s.status = 'failed'",
                {"id": transaction_id},
            )
            row = cur.fetchone()
        return SignedEnvelope(*row) if row else None
