"""Idempotency-Key for the merchant API's POSTs: the same key and request get the same
answer (status and body) again; another request with the key is refused (409).

Keys are scoped to the merchant (one merchant's key never meets another's), and the
answer is stored by the very transaction that makes the effect: the key is claimed
first (a concurrent request with the same key waits on the claim, then sees the
answer), the effect runs, its answer is written, one COMMIT. A request that is refused
(422, 404, 409) rolls back and leaves no answer: nothing happened, so a retry is judged
afresh and, the refusals being about states that never come back, answers alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.db.unit_of_work import UnitOfWork
from app.errors import IdempotencyConflict, ServiceUnavailable
from app.services.ledger import check_key

# How long an answer is kept for a retry (Stripe's choice too): a key sent again after
# that is a new request.
KEEP_ANSWERS = timedelta(hours=24)
PURGE_BATCH = 1_000


@dataclass(frozen=True, slots=True)
class Answer:
    status: int  # 2xx
    body: dict
    replayed: bool  # True: an earlier request with this key made it


def answer_once(
    uow: UnitOfWork,
    merchant_id: int,
    key: str,
    fingerprint: str,
    effect: Callable[[], tuple[int, dict]],
) -> Answer:
    """Run effect() (inside this transaction: it writes through `uow`, never commits)
    unless the key was used, and store its answer with it; commits. Raises
    ValidationFailed ('invalid_idempotency_key'), IdempotencyConflict for the key with
    another request, whatever effect raises (then nothing is stored), ServiceUnavailable."""
    check_key(key)
    with uow:
        if not uow.merchant_idempotency.claim(merchant_id, key, fingerprint):
            return _replay(uow, merchant_id, key, fingerprint)
        status, body = effect()
        uow.merchant_idempotency.answer(merchant_id, key, status, body)
        uow.commit()
    return Answer(status, body, replayed=False)


def purge(uow: UnitOfWork, now: datetime, batch: int = PURGE_BATCH) -> int:
    """Forget up to `batch` answers older than KEEP_ANSWERS; commits; returns how many."""
    with uow:
        purged = uow.merchant_idempotency.purge(now - KEEP_ANSWERS, batch)
        uow.commit()
    return purged


def _replay(uow: UnitOfWork, merchant_id: int, key: str, fingerprint: str) -> Answer:
    found = uow.merchant_idempotency.find(merchant_id, key)
    if found is None:  # claimed, then gone: only a purge between two statements does this
        raise ServiceUnavailable("the idempotency key is being purged; retry")
    stored_hash, status, body = found
    if stored_hash != fingerprint:
        raise IdempotencyConflict("this Idempotency-Key was used for a different request")
    return Answer(status, body, replayed=True)
