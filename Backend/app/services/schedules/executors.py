"""One executor per kind of scheduled payment: what it pays, and how.

A kind plugs in by adding an Executor to kinds.EXECUTORS (and its name to the CHECK on
scheduled_payments.kind): transfers here, bills and airtime in bill_executors.py. The
schedule's machinery (dates, occurrences, retries, SMS) never looks inside a payee: the
executor checks it when the schedule is created and pays it when an occurrence runs.

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
from app.domain.records.schedules import Schedule
from app.services import transfers


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
        *,
        bill_rails: tuple[str, ...],
    ) -> Payment:
        """Pay the schedule's amount once per idempotency_key; commits. Raises as the
        module docstring says."""
        ...

    def made(self, uow: UnitOfWork, schedule: Schedule, idempotency_key: str) -> Payment | None:
        """The payment idempotency_key already made (committed in the ledger), or None.
        Raises nothing."""
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
