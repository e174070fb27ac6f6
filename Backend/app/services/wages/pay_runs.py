"""Pay runs: a draft with every worker's payslip, then approval, which holds the run's
whole cost from the employer's wallet and queues one outbox row per line (kind
'wage_line'), in one transaction. The outbox worker pays each line (line_payments.py).

The hold ('wage_hold': wallet -> the employer's wage_hold shard) is gross pay plus
the employer's shares of every line: net pay goes to the workers and every deduction
(both shares) to the employer's dues accounts when each line is paid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from app.db.repositories.ledger import KeyTaken, Overdraft, TierLimits
from app.db.repositories.outbox import OutboxMessage
from app.db.unit_of_work import UnitOfWork
from app.domain.money import nairobi_day, new_reference
from app.domain.records.wages import EmployedWorker, PayRun, PayRunLine
from app.domain.wages import NoRuleInForce, Payslip, PayTooLow, compute_payslip, rules_in_force
from app.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    LimitExceeded,
    NotAnEmployer,
    NotFound,
    PayRunNotFound,
    refused,
)
from app.services.ledger import request_hash, scoped_key, with_fresh_reference
from app.services.transfers import hold_shard
from app.services.wages.employers import MAX_WORKERS

CHANNELS = ("ussd", "api", "system")  # system: a wage schedule's run
HOLD_KIND = "wage_hold"
LINE_KIND = "wage_line"
MAX_SHOWN = 50
# A run holding nothing yet: approving holds it; a skipped occurrence cancels it.
UNFUNDED = ("draft", "approved")


@dataclass(frozen=True)
class RunShown:
    run: PayRun
    lines: list[PayRunLine]
    replayed: bool = False


def line_job(line_id: int) -> OutboxMessage:
    """The outbox row the worker pays one line from (once per line)."""
    return OutboxMessage(
        kind=LINE_KIND, payload={"line": line_id}, dedupe_key=f"{LINE_KIND}:{line_id}"
    )


def payslips(
    uow: UnitOfWork, workers: list[EmployedWorker], pay_date: date
) -> list[tuple[EmployedWorker, Payslip]]:
    """Each worker's payslip under the rules in force on pay_date (inside `with uow`).
    Raises ValidationFailed ('no_rule_in_force', 'pay_too_low')."""
    try:
        rules = rules_in_force(uow.wage_rules.rules(), uow.wage_rules.paye_bands(), pay_date)
    except NoRuleInForce as exc:
        raise refused("no_rule_in_force", f"no {exc.item} rule is in force then") from exc
    made = []
    for worker in workers:
        try:
            slip = compute_payslip(
                worker.gross_pay, worker.frequency, rules, frozenset(worker.deductions)
            )
        except PayTooLow as exc:
            raise refused("pay_too_low", f"{worker.display_name}: {exc}") from exc
        made.append((worker, slip))
    return made


def create_pay_run(
    uow: UnitOfWork,
    *,
    employer_user_id: int,
    pay_date: date,
    idempotency_key: str,
    worker_ids: list[int] | None = None,
    channel: str = "api",
    now: datetime | None = None,
) -> RunShown:
    """A draft run of the employer's active workers (those of worker_ids, when given),
    each line's payslip computed; commits. Idempotent on the key (a repeat answers the
    same run, replayed; another request with it raises IdempotencyConflict). Raises
    NotAnEmployer, ValidationFailed ('no_workers', 'too_many_workers',
    'no_rule_in_force', 'pay_too_low', 'invalid_channel', 'invalid_idempotency_key')."""
    if channel not in CHANNELS:
        raise refused("invalid_channel", "unknown channel")
    key = scoped_key("pay_run", employer_user_id, idempotency_key)
    wanted = sorted(set(worker_ids)) if worker_ids is not None else None
    fingerprint = request_hash(pay_date=pay_date.isoformat(), workers=wanted)
    now = now or datetime.now(UTC)
    with uow:
        if not uow.wages.is_employer(employer_user_id):
            raise NotAnEmployer("become an employer first")
        earlier = uow.wages.run_by_key(employer_user_id, key)
        if earlier is not None:
            return replayed(uow, earlier, fingerprint)
        workers = uow.wages.workers(employer_user_id, ids=wanted)
        if wanted is not None and len(workers) != len(wanted):
            raise refused("no_workers", "name active workers of this employer")
        return draft_in(uow, employer_user_id, pay_date, key, fingerprint, workers, channel, now)


def draft_in(
    uow: UnitOfWork,
    employer_user_id: int,
    pay_date: date,
    key: str,
    fingerprint: str,
    workers: list[EmployedWorker],
    channel: str,
    now: datetime,
    before_commit: Callable[[int], None] = lambda run_id: None,
) -> RunShown:
    """Inside `with uow`: insert a draft run of these workers (the key scoped, checked
    not taken), run before_commit(run id) and commit; create_pay_run's errors."""
    if not workers:
        raise refused("no_workers", "name active workers of this employer")
    if len(workers) > MAX_WORKERS:
        raise refused("too_many_workers", f"at most {MAX_WORKERS} lines a run")
    lines = payslips(uow, workers, pay_date)
    run_id = uow.wages.insert_run(
        reference=new_reference(),
        employer_user_id=employer_user_id,
        pay_date=pay_date,
        total_cost=sum(slip.gross + slip.employer_contributions for _, slip in lines),
        channel=channel,
        idempotency_key=key,
        request_hash=fingerprint,
        now=now,
        lines=lines,
    )
    if run_id is None:  # a concurrent request with this key committed it first
        raced = uow.wages.run_by_key(employer_user_id, key)
        assert raced is not None, "ON CONFLICT waited for the row it names"
        return replayed(uow, raced, fingerprint)
    before_commit(run_id)
    uow.commit()
    return show_in(uow, employer_user_id, run_id)


def approve_pay_run(
    uow: UnitOfWork,
    *,
    employer_user_id: int,
    run_id: int,
    now: datetime | None = None,
    wait_for_funds: bool = False,
) -> RunShown:
    """Hold the run's whole cost from the employer's wallet and queue every line for
    the worker; commits. The channel checks the PIN first. A draft, or a run approved
    and waiting for funds, is held now; a run held before, or ended, is answered as it
    is (replayed). With wait_for_funds (a wage schedule's run), a draft the wallet
    cannot pay (funds or limits) is committed `approved` before the refusal is raised:
    approved, waiting for funds, nothing held; a later call holds it. Raises
    PayRunNotFound, LimitExceeded, InsufficientFunds, NotFound (no wallet)."""
    now = now or datetime.now(UTC)
    return with_fresh_reference(
        lambda: _approve_once(uow, employer_user_id, run_id, now, wait_for_funds)
    )


def cancel_unfunded(
    uow: UnitOfWork, employer_user_id: int, key: str, now: datetime
) -> PayRun | None:
    """Inside the caller's transaction: the run made with this scoped key will not be
    paid (its wage schedule's occurrence is skipped). A draft or a run waiting for funds
    is canceled under its row lock; the run is returned as it is after, or None when the
    key made none. A run found held (approved by the employer meanwhile) is left as it
    is: the caller records its payment. Raises nothing."""
    run = uow.wages.run_by_key(employer_user_id, key, for_update=True)
    if run is None or run.status not in UNFUNDED:
        return run
    uow.wages.cancel_run(run.id, now)
    return uow.wages.run(run.id)


def check_run_limits(
    limits: TierLimits, total: int, largest_line: int, day_total: int, rolling_total: int
) -> None:
    """A run is many payments at once: each line within the employer's per-transaction
    limit, the whole run within what the day and the 30 days ending today have left
    (check_limits' rule for one payment). Raises LimitExceeded."""
    if largest_line > limits.per_transaction:
        raise LimitExceeded("per_transaction", limits.per_transaction)
    if day_total + total > limits.daily:
        raise LimitExceeded("daily", max(0, limits.daily - day_total))
    if rolling_total + total > limits.rolling_30_days:
        raise LimitExceeded("rolling_30_days", max(0, limits.rolling_30_days - rolling_total))


def show_pay_run(uow: UnitOfWork, employer_user_id: int, run_id: int) -> RunShown:
    """One of the employer's runs and its lines; raises PayRunNotFound."""
    with uow:
        return show_in(uow, employer_user_id, run_id)


def list_pay_runs(uow: UnitOfWork, employer_user_id: int) -> list[PayRun]:
    """The employer's newest runs (MAX_SHOWN); raises NotAnEmployer."""
    with uow:
        if not uow.wages.is_employer(employer_user_id):
            raise NotAnEmployer("become an employer first")
        return uow.wages.runs(employer_user_id, MAX_SHOWN)


def show_in(
    uow: UnitOfWork, employer_user_id: int, run_id: int, replayed: bool = False
) -> RunShown:
    """Inside `with uow`: one of the employer's runs; raises PayRunNotFound."""
    run = uow.wages.run(run_id, employer_user_id=employer_user_id)
    if run is None:
        raise PayRunNotFound("no such pay run")
    return RunShown(run=run, lines=uow.wages.lines(run_id), replayed=replayed)


def replayed(uow: UnitOfWork, earlier: PayRun, fingerprint: str) -> RunShown:
    """Inside `with uow`: the run an earlier call made with this key; raises
    IdempotencyConflict when it was another request."""
    if earlier.request_hash != fingerprint:
        raise IdempotencyConflict("this idempotency key was used for a different pay run")
    return show_in(uow, earlier.employer_user_id, earlier.id, replayed=True)


def _approve_once(
    uow: UnitOfWork, employer_user_id: int, run_id: int, now: datetime, wait_for_funds: bool
) -> RunShown:
    with uow:
        run = uow.wages.run(run_id, employer_user_id=employer_user_id, for_update=True)
        if run is None:
            raise PayRunNotFound("no such pay run")
        if run.status not in UNFUNDED:  # held before, or ended: the same answer
            return show_in(uow, employer_user_id, run_id, replayed=True)
        try:
            return _hold(uow, run, now)
        except (InsufficientFunds, LimitExceeded):
            if not wait_for_funds:
                raise
            # Nothing of the failed hold is kept, and its lock went with it: lock the run
            # again; a draft waits approved (once), one held meanwhile is left as it is.
            uow.rollback()
            again = uow.wages.run(run.id, for_update=True)
            if again is not None and again.status == "draft":
                uow.wages.mark_approved(run.id, now)
            uow.commit()
            raise


def _hold(uow: UnitOfWork, run: PayRun, now: datetime) -> RunShown:
    """Inside `with uow`, the run's row locked and holding nothing: hold its cost and
    queue its lines; commits. Raises LimitExceeded, InsufficientFunds, NotFound."""
    today = nairobi_day(now)
    employer_user_id = run.employer_user_id
    hold_code = hold_shard(employer_user_id, HOLD_KIND)
    uow.wages.open_accounts(HOLD_KIND, [hold_code])  # the shard's first run opens it
    locked = uow.ledger.accounts(user_ids=[employer_user_id], codes=[hold_code])
    wallet = next((a for a in locked if a.user_id == employer_user_id), None)
    hold = next((a for a in locked if a.code == hold_code), None)
    if wallet is None or hold is None or wallet.limits is None:
        raise NotFound("no wallet for this user")
    key = f"{HOLD_KIND}:{run.id}"
    _, day_total, rolling_total = uow.ledger.key_and_outflows(key, wallet.id, today)
    lines = uow.wages.lines(run.id)
    check_run_limits(
        wallet.limits, run.total_cost, max(x.cost for x in lines), day_total, rolling_total
    )
    if wallet.balance < run.total_cost:
        raise InsufficientFunds(balance=wallet.balance, needed=run.total_cost)
    try:
        hold_id = uow.ledger.post(
            reference=new_reference(),
            kind=HOLD_KIND,
            amount=run.total_cost,
            fee=0,
            idempotency_key=key,
            request_hash=request_hash(kind=HOLD_KIND, run=run.id, cost=run.total_cost),
            legs=[(wallet.id, -run.total_cost), (hold.id, run.total_cost)],
            channel=run.channel,
            created_at=now,
            initiator_user_id=employer_user_id,
            note=f"pay run {run.reference}",
            outflow=(wallet.id, today, run.total_cost),
            messages=tuple(line_job(line.id) for line in lines),
        )
    except Overdraft:
        uow.rollback()
        raise InsufficientFunds(balance=wallet.balance, needed=run.total_cost) from None
    except KeyTaken:  # impossible under the run's row lock; kept for the loud failure
        uow.rollback()
        raise
    uow.wages.mark_funded(run.id, hold_id=hold_id, hold_day=today, now=now)
    uow.commit()
    return show_in(uow, employer_user_id, run.id)
