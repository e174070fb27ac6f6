"""One executor per kind of scheduled payment: what it pays, and how.

A kind plugs in by adding an Executor to kinds.EXECUTORS (and its name to the CHECK on
scheduled_payments.kind): 'transfer' (Send money) and 'wage' (a pay run of one worker)
here, bills and airtime in bill_executors.py. The schedule's machinery (dates,
occurrences, retries, SMS) never looks inside a payee: the executor checks it when the
schedule is created and pays it when an occurrence runs.

An executor's `pay` is called again for the same occurrence after a crash, with the same
idempotency key: it must pay once per key (the ledger's keys do that for transfers).
It raises InsufficientFunds or LimitExceeded when the payer cannot pay now (the
occurrence is retried), another PayTraceError when the payment is refused for good (the
occurrence is skipped with that code), ServiceUnavailable when it could not tell (the
worker runs it again later, with the same key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from app.db.unit_of_work import UnitOfWork
from app.domain.money import nairobi_day
from app.domain.records.schedules import Schedule
from app.services import transfers
from app.services.ledger import scoped_key
from app.services.wages import employers, pay_runs


@dataclass(frozen=True)
class Payee:
    key: str  # as the kind stores it (transfer: E.164 phone)
    name: str  # what the owner is shown


@dataclass(frozen=True)
class Payment:
    transaction_id: int
    reference: str


class Executor(Protocol):
    kind: str
    max_amount: int

    def payee(
        self,
        uow: UnitOfWork,
        owner_user_id: int,
        payee: str,
        *,
        amount: int,
        bill_rails: tuple[str, ...],
    ) -> Payee:
        """The payee checked (with the amount, for a kind whose payee bounds it) and
        named; raises what the kind refuses. `bill_rails`: Settings.bill_rails."""
        ...

    def pay(
        self,
        uow: UnitOfWork,
        schedule: Schedule,
        idempotency_key: str,
        now: datetime,
        due_at: datetime,
        *,
        bill_rails: tuple[str, ...],
    ) -> Payment:
        """Pay the occurrence due at due_at once per idempotency_key; commits. Raises as
        the module docstring says."""
        ...

    def made(self, uow: UnitOfWork, schedule: Schedule, idempotency_key: str) -> Payment | None:
        """The payment idempotency_key already made (committed in the ledger), or None.
        Raises nothing."""
        ...

    def abandon(
        self, uow: UnitOfWork, schedule: Schedule, idempotency_key: str, now: datetime
    ) -> Payment | None:
        """Inside the caller's transaction: the occurrence of idempotency_key is being
        skipped. Close what the key made that holds no money (a wage run waiting for
        funds), so nothing of it is left open; answer the payment the key made if one
        is held after all (the caller records it paid, not skipped). Raises nothing."""
        ...


class TransferExecutor:
    """Send money to another PayTrace wallet, through transfers.transfer (its fee,
    limits and SMS to both sides), channel 'system': the worker moves it, not a dial."""

    kind = "transfer"
    max_amount = transfers.MAX_TRANSFER

    def payee(
        self,
        uow: UnitOfWork,
        owner_user_id: int,
        payee: str,
        *,
        amount: int,
        bill_rails: tuple[str, ...],
    ) -> Payee:
        del amount, bill_rails  # any amount create allows; no rail
        found = transfers.find_recipient(uow, sender_user_id=owner_user_id, phone=payee)
        return Payee(key=found.phone, name=found.full_name)

    def pay(
        self,
        uow: UnitOfWork,
        schedule: Schedule,
        idempotency_key: str,
        now: datetime,
        due_at: datetime,
        *,
        bill_rails: tuple[str, ...],
    ) -> Payment:
        del bill_rails
        movement = transfers.transfer(
            uow,
            transfers.TransferRequest(
                sender_user_id=schedule.owner_user_id,
                recipient_phone=schedule.payee,
                amount=schedule.amount,
                idempotency_key=idempotency_key,
                channel="system",
                note=schedule.note,
            ),
            now=now,
        )
        return Payment(movement.transaction_id, movement.reference)

    def made(self, uow: UnitOfWork, schedule: Schedule, idempotency_key: str) -> Payment | None:
        found = uow.ledger.find(key=transfers.transfer_key(schedule.owner_user_id, idempotency_key))
        return Payment(found.id, found.reference) if found is not None else None

    def abandon(
        self, uow: UnitOfWork, schedule: Schedule, idempotency_key: str, now: datetime
    ) -> Payment | None:
        del now  # a transfer is one posting: made whole or not at all
        return self.made(uow, schedule, idempotency_key)


class WageExecutor:
    """A pay run of one employed worker (the payee: the worker's id), dated the
    occurrence's Nairobi day, made and approved with the occurrence's key: the hold of
    the worker's whole cost is the payment; the outbox worker then pays the line
    (services/wages/line_payments.py). Made under the worker's terms of the day it runs.
    A removed worker refuses the run ('no_workers': skipped); no funds or over a limit
    approves the run without its money ('approved', waiting for funds): the retry holds
    it, once (the run's row lock); a skipped occurrence cancels it (abandon)."""

    kind = "wage"
    max_amount = 2 * employers.MAX_GROSS  # gross pay and the employer's shares

    def payee(
        self,
        uow: UnitOfWork,
        owner_user_id: int,
        payee: str,
        *,
        amount: int,
        bill_rails: tuple[str, ...],
    ) -> Payee:
        del amount, bill_rails  # the amount is the worker's cost; no rail
        worker = employers.find_worker(uow, owner_user_id, payee)
        return Payee(key=str(worker.id), name=worker.display_name)

    def pay(
        self,
        uow: UnitOfWork,
        schedule: Schedule,
        idempotency_key: str,
        now: datetime,
        due_at: datetime,
        *,
        bill_rails: tuple[str, ...],
    ) -> Payment:
        del bill_rails
        made = pay_runs.create_pay_run(
            uow,
            employer_user_id=schedule.owner_user_id,
            pay_date=nairobi_day(due_at),
            idempotency_key=idempotency_key,
            worker_ids=[int(schedule.payee)],
            channel="system",
            now=now,
        )
        # Short of funds or over a limit, the run waits 'approved' for the retry.
        approved = pay_runs.approve_pay_run(
            uow,
            employer_user_id=schedule.owner_user_id,
            run_id=made.run.id,
            now=now,
            wait_for_funds=True,
        )
        assert approved.run.hold_id is not None  # approved: held
        return Payment(approved.run.hold_id, approved.run.reference)

    def made(self, uow: UnitOfWork, schedule: Schedule, idempotency_key: str) -> Payment | None:
        owner = schedule.owner_user_id
        run = uow.wages.run_by_key(owner, scoped_key("pay_run", owner, idempotency_key))
        if run is None or run.hold_id is None:  # not made, or made and not yet held
            return None
        return Payment(run.hold_id, run.reference)

    def abandon(
        self, uow: UnitOfWork, schedule: Schedule, idempotency_key: str, now: datetime
    ) -> Payment | None:
        owner = schedule.owner_user_id
        key = scoped_key("pay_run", owner, idempotency_key)
        run = pay_runs.cancel_unfunded(uow, owner, key, now)
        if run is None or run.hold_id is None:  # none made, or canceled holding nothing
            return None
        return Payment(run.hold_id, run.reference)
