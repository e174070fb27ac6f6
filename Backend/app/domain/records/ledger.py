"""A wallet's statement lines and the filter that reads them.

Plain records (no behaviour but what derives from their own fields): repositories
build them, services return them, channels render them. They live in the domain so
that no layer reaches into app/db/repositories for a type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StatementLine:
    transaction_id: int
    reference: str
    kind: str
    created_at: datetime
    amount: int  # signed: what this movement did to the wallet, fee included
    balance_after: int
    counterparty_name: str | None
    counterparty_phone: str | None
    leg_id: int  # the line's position in the account's history (a cursor)
    fee: int  # the part of a money-out that was the fee
    note: str | None
    # Its settlement on Stellar (stellar_settlements); None: it moves nothing on-chain.
    settlement_status: str | None = None  # pending | submitted | settled | failed
    stellar_tx_hash: str | None = None
    stellar_ledger: int | None = None


@dataclass(frozen=True, slots=True)
class StatementFilter:
    """Which lines of an account's history to read, newest first."""

    before_leg_id: int | None = None  # only lines older than this one (paging)
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    kinds: tuple[str, ...] = ()  # empty: every kind
    direction: str | None = None  # 'in' | 'out' | None for both


@dataclass(frozen=True, slots=True)
class AccountLockOrder:
    """An account that can be hot, and its place in the ledger's lock order
    (migration 0058: every movement locks its accounts in (locked_last, id) order)."""

    account_id: int
    kind: str  # wallet | merchant | campaign
    locked_last: bool
    phone: str | None  # the wallet's owner
    merchant_id: int | None
    campaign_code: str | None
