"""Settlement on Stellar as stored: a settlement, a signed envelope, a reconciliation.

Plain records (no behaviour but what derives from their own fields): repositories
build them, services return them, channels render them. They live in the domain so
that no layer reaches into app/db/repositories for a type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StoredReport:
    id: int
    started_at: datetime
    finished_at: datetime
    accounts: int
    drifts: int
    report: dict


@dataclass(frozen=True)
class SignedEnvelope:
    id: int
    outbox_id: int
    source: str
    sequence: int
    tx_hash: str
    envelope_xdr: str
    max_time: datetime
    status: str  # signed | applied | failed | dead
    ledger: int | None


@dataclass(frozen=True, slots=True)
class SettlementState:
    """A journal transaction's settlement on Stellar, with the journal's own facts: what
    operators read, and users in part."""

    transaction_id: int
    reference: str
    kind: str
    amount: int  # cents
    fee: int  # cents
    created_at: datetime  # the journal transaction's
    status: str  # pending | submitted | settled | failed
    origin: str  # paytrace | incoming (a payment that already happened on-chain)
    tx_hash: str | None  # the Stellar transaction that settled it
    ledger: int | None  # the ledger that applied it (None for incoming payments)
    last_error: str | None  # the network's refusal (failed; kept while retried)
    envelope_hash: str | None  # its envelope: in flight, applied, or refused
    settled_at: datetime | None
