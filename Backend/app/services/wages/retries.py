"""Retrying a pay run's failed lines: a new draft run (same pay date) of the workers
whose lines failed, each failed line marked 'retried' in the same transaction, so a
line is retried at most once. The new run is approved like any other; the worker must
have a wallet by then (e.g. registered after the invitation)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.db.unit_of_work import UnitOfWork
from app.errors import PayRunNotFound, refused
from app.services.ledger import request_hash, scoped_key
from app.services.wages.pay_runs import CHANNELS, RunShown, draft_in, replayed


def retry_failed_lines(
    uow: UnitOfWork,
    *,
    employer_user_id: int,
    run_id: int,
    idempotency_key: str,
    channel: str = "api",
    now: datetime | None = None,
) -> RunShown:
    """A new draft run of the failed lines' workers (still active); commits. Idempotent
    on the key as create_pay_run. Raises PayRunNotFound, IdempotencyConflict,
    ValidationFailed ('nothing_to_retry', 'no_workers', 'no_rule_in_force',
    'pay_too_low', 'invalid_channel', 'invalid_idempotency_key')."""
    if channel not in CHANNELS:
        raise refused("invalid_channel", "unknown channel")
    key = scoped_key("pay_run", employer_user_id, idempotency_key)
    fingerprint = request_hash(retry_of=run_id)
    now = now or datetime.now(UTC)
    with uow:
        earlier = uow.wages.run_by_key(employer_user_id, key)
        if earlier is not None:
            return replayed(uow, earlier, fingerprint)
        run = uow.wages.run(run_id, employer_user_id=employer_user_id, for_update=True)
        if run is None:
            raise PayRunNotFound("no such pay run")
        failed = [line.worker_id for line in uow.wages.lines(run_id) if line.status == "failed"]
        if not failed:
            raise refused("nothing_to_retry", "this pay run has no failed line left")
        workers = uow.wages.workers(employer_user_id, ids=failed)

        def mark_retried(new_run_id: int) -> None:
            uow.wages.mark_retried(run_id, [worker.id for worker in workers])

        return draft_in(
            uow,
            employer_user_id,
            run.pay_date,
            key,
            fingerprint,
            workers,
            channel,
            now,
            before_commit=mark_retried,
        )
