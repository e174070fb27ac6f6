"""What every money movement shares: idempotency, limits, the posted result.

A movement is one call of a service function (transfer, cash-in, reversal), one
PostgreSQL transaction: lock the accounts it touches in the lock order, check the key
was not used before, check the rules, post the journal transaction, queue its SMS
through the outbox, commit. The database refuses what the rules should never let
through (unbalanced legs, an overdrawn wallet).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from app.db.repositories.ledger import (
    JournalEntry,
    KeyTaken,
    PendingMessage,
    ReferenceTaken,
    TierLimits,
)
from app.db.repositories.outbox import OutboxMessage
from app.db.unit_of_work import UnitOfWork
from app.domain.money import NAIROBI
from app.errors import IdempotencyConflict, LimitExceeded, ServiceUnavailable, refused

CHANNELS = ("ussd", "api", "admin", "system")
# A channel's own key; stored scoped (e.g. 'transfer:<user id>:<key>') within 200.
MAX_KEY_LENGTH = 128
# 31^10 references: a collision is rare; a handful of redraws makes failure absurd.
_REFERENCE_DRAWS = 5

T = TypeVar("T")

# Stands for a balance in a rendered SMS until the statement that posts the movement
# knows it: PostgreSQL text can hold no NUL, so no name or template can contain it.
BALANCE_SLOT = "\x00"


def pending_balance(message: OutboxMessage, balance_of: int) -> PendingMessage:
    """An SMS rendered with BALANCE_SLOT where its reader's balance goes, as the posting
    statement completes it (with the balance after the movement of `balance_of`)."""
    payload = dict(message.payload)
    parts = tuple(payload.pop("message").split(BALANCE_SLOT))
    return PendingMessage(message.kind, payload, message.dedupe_key, parts, balance_of)


def with_fresh_reference(attempt: Callable[[], T]) -> T:
    """Run attempt (its own `with uow:`, drawing a new transaction reference each time)
    again while the reference it drew was taken; ServiceUnavailable after a handful.
    The one loop every posting service uses around its transaction."""
    for _ in range(_REFERENCE_DRAWS):
        try:
            return attempt()
        except ReferenceTaken:
            continue
    raise ServiceUnavailable("could not draw a free transaction reference")


@dataclass(frozen=True)
class Movement:
    """A posted journal transaction as the channels show it."""

    transaction_id: int
    reference: str
    kind: str  # transfer | cash_in | reversal
    amount: int  # cents
    fee: int  # cents
    created_at: datetime
    # Each wallet's balance right after the movement, by user id.
    balances: dict[int, int]
    replayed: bool = False  # True: an earlier call with this key did the work


def request_hash(**fields: object) -> str:
    """A stable fingerprint of a request: same key + other fingerprint = refused."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def movement_of(entry: JournalEntry, *, replayed: bool) -> Movement:
    return Movement(
        transaction_id=entry.id,
        reference=entry.reference,
        kind=entry.kind,
        amount=entry.amount,
        fee=entry.fee,
        created_at=entry.created_at,
        balances={leg.user_id: leg.balance_after for leg in entry.legs if leg.user_id},
        replayed=replayed,
    )


def earlier_result(uow: UnitOfWork, key: str, fingerprint: str) -> Movement | None:
    """The result of an earlier call with this key, or None; raises IdempotencyConflict."""
    entry = uow.ledger.find(key=key)
    if entry is None:
        return None
    if entry.request_hash != fingerprint:
        raise IdempotencyConflict("this idempotency key was used for a different request")
    return movement_of(entry, replayed=True)


def run_idempotent(
    uow: UnitOfWork, key: str, fingerprint: str, attempt: Callable[[], Movement]
) -> Movement:
    """Run one movement attempt (its own `with uow:`), retrying a reference collision.

    A concurrent call that committed the same key first wins: its result is
    returned as a replay (or IdempotencyConflict if it was another request).
    """
    try:
        return with_fresh_reference(attempt)
    except KeyTaken:
        with uow:
            earlier = earlier_result(uow, key, fingerprint)
        if earlier is None:  # the unique index named another movement
            raise IdempotencyConflict("this movement was already made") from None
        return earlier


def scoped_key(kind: str, user_id: int, key: str) -> str:
    """A channel's idempotency key, checked and scoped to its kind and its user: one
    user's key can never collide with another user's, nor one kind's with another's
    (a transfer's with a cash-in's or a reversal's). Raises ValidationFailed (code
    'invalid_idempotency_key')."""
    return f"{kind}:{user_id}:{check_key(key)}"


def check_key(key: str) -> str:
    """Raises ValidationFailed (code 'invalid_idempotency_key')."""
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise refused(
            "invalid_idempotency_key", f"an idempotency key of 1 to {MAX_KEY_LENGTH} characters"
        )
    return key


def check_amount(amount: object, *, maximum: int) -> int:
    """Raises ValidationFailed (code 'invalid_amount') unless 0 < amount <= maximum cents."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= maximum:
        raise refused("invalid_amount", f"the amount must be whole cents from 1 to {maximum}")
    return amount


def check_limits(limits: TierLimits, amount: int, day_total: int, rolling_total: int) -> None:
    """Refuse an outflow above the owner's tier limits, given what already went out
    today and over the 30 days ending today; raises LimitExceeded."""
    if amount > limits.per_transaction:
        raise LimitExceeded("per_transaction", limits.per_transaction)
    if day_total + amount > limits.daily:
        raise LimitExceeded("daily", max(0, limits.daily - day_total))
    if rolling_total + amount > limits.rolling_30_days:
        raise LimitExceeded("rolling_30_days", max(0, limits.rolling_30_days - rolling_total))


def sms_time(moment: datetime) -> str:
    """22/11/26 14:05, Nairobi time: how Kenyan users read a receipt."""
    return moment.astimezone(NAIROBI).strftime("%d/%m/%y %H:%M")
