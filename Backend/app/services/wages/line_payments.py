"""Paying one line of a funded pay run, exactly once.

The outbox worker claims the line's 'wage_line' row (committed: the at-most-once
point), then settles it in one transaction that also runs `pay_line_in`: lock the
line; a line no longer queued is left as it is (a rerun after a crash pays nothing
twice); else post the payment (its idempotency key is the line's) or the release, end
the line, move the run on and queue the payslip SMS. A worker that dies before that
transaction commits leaves the row to be reclaimed and run again (the kind is
resumable): nothing was paid, so nothing is paid twice.

A line pays the worker's wallet (found by phone now: the worker may have registered
since the run was made); a phone with no wallet fails the line, and its cost goes
back to the employer ('wage_release'), never lost.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from app.db.repositories.ledger import LockedAccount
from app.db.unit_of_work import UnitOfWork
from app.domain.money import new_reference
from app.domain.phone import mask
from app.domain.records.wages import PayRun, PayRunLine
from app.domain.wages import ITEMS, whole_shillings
from app.services.ledger import request_hash
from app.services.notifications import journal_sms_key, sms_message
from app.services.transfers import hold_shard
from app.services.wages.pay_runs import HOLD_KIND

log = logging.getLogger("paytrace.wages")

PAYMENT_KIND, RELEASE_KIND = "wage_payment", "wage_release"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# The payslip's names of the items: the authorities' own, in both languages.
SLIP_NAMES = {"nssf": "NSSF", "shif": "SHIF", "ahl": "AHL", "paye": "PAYE"}


def dues_code(employer_user_id: int, item: str) -> str:
    """The ledger account of what one employer owes for one item."""
    return f"wage_dues:{employer_user_id}:{item}"


def pay_line(uow: UnitOfWork, line_id: int, now: datetime | None = None) -> str:
    """Pay (or release) one line in a transaction of its own; commits. Returns the
    line's status after ('paid', 'failed', or as it was when already ended)."""
    with uow:
        status = pay_line_in(uow, line_id, now)
        uow.commit()
    return status


def pay_line_in(uow: UnitOfWork, line_id: int, now: datetime | None = None) -> str:
    """Inside the caller's transaction: pay or release one queued line (see the module
    docstring); returns the line's status after. Raises nothing for a line that ended
    already or is unknown (an outbox row outliving its line answers 'missing')."""
    now = now or datetime.now(UTC)
    line = uow.wages.line_for_update(line_id)
    if line is None:
        return "missing"
    if line.status != "queued":
        return line.status
    run = uow.wages.run(line.pay_run_id, for_update=True)
    assert run is not None and run.hold_id is not None, "a line is queued once its run is held"
    worker = uow.users.get_by_phone(line.phone)
    if worker is None or worker.id == run.employer_user_id:
        _release(uow, run, line, "not_registered", now)
        status = "failed"
    else:
        _pay(uow, run, line, worker.id, worker.language, now)
        status = "paid"
    uow.wages.settle_run_status(run.id, now)
    return status


def payslip_text_params(line: PayRunLine, pay_date: date, reference: str) -> dict[str, str]:
    """The payslip SMS's placeholders: whole shillings, the items the worker pays."""
    totals = {item: sum(x.employee for x in line.deductions if x.item == item) for item in ITEMS}
    shown = [
        f"{SLIP_NAMES[item]} {whole_shillings(totals[item])}"
        for item in ITEMS
        if any(x.item == item for x in line.deductions) and (item != "paye" or totals[item])
    ]
    return {
        "month": MONTHS[pay_date.month - 1],
        "gross": str(whole_shillings(line.gross)),
        "deductions": "".join(f"{part} " for part in shown),
        "net": str(whole_shillings(line.net)),
        "reference": reference,
    }


def _pay(
    uow: UnitOfWork, run: PayRun, line: PayRunLine, worker_id: int, language: str, now: datetime
) -> None:
    hold_code = hold_shard(run.employer_user_id, HOLD_KIND)
    dues = {
        item: dues_code(run.employer_user_id, item)
        for item in ITEMS
        if any(x.item == item and (x.employee or x.employer) for x in line.deductions)
    }
    uow.wages.open_accounts("wage_dues", list(dues.values()))
    locked = uow.ledger.accounts(user_ids=[worker_id], codes=[hold_code, *dues.values()])
    by_code: dict[str | None, LockedAccount] = {a.code: a for a in locked}
    wallet = next(a for a in locked if a.user_id == worker_id)
    legs = [(by_code[hold_code].id, -line.cost)]
    if line.net:
        legs.append((wallet.id, line.net))
    for item, code in dues.items():
        owed = sum(x.employee + x.employer for x in line.deductions if x.item == item)
        legs.append((by_code[code].id, owed))
    reference = new_reference()
    slip = sms_message(
        to=line.phone,
        template="payslip",
        language=language,
        dedupe_key=journal_sms_key(reference, worker_id),
        **payslip_text_params(line, run.pay_date, reference),
    )
    transaction_id = uow.ledger.post(
        reference=reference,
        kind=PAYMENT_KIND,
        amount=line.gross,
        fee=0,
        idempotency_key=f"{PAYMENT_KIND}:{line.id}",
        request_hash=request_hash(kind=PAYMENT_KIND, line=line.id, cost=line.cost),
        legs=legs,
        channel="system",
        created_at=now,
        initiator_user_id=run.employer_user_id,
        note=f"pay run {run.reference}",
        messages=(slip,),
    )
    uow.wages.end_line(line.id, status="paid", transaction_id=transaction_id, now=now)


def _release(uow: UnitOfWork, run: PayRun, line: PayRunLine, why: str, now: datetime) -> None:
    hold_code = hold_shard(run.employer_user_id, HOLD_KIND)
    locked = uow.ledger.accounts(user_ids=[run.employer_user_id], codes=[hold_code])
    hold = next(a for a in locked if a.code == hold_code)
    wallet = next(a for a in locked if a.user_id == run.employer_user_id)
    transaction_id = uow.ledger.post(
        reference=new_reference(),
        kind=RELEASE_KIND,
        amount=line.cost,
        fee=0,
        idempotency_key=f"{RELEASE_KIND}:{line.id}",
        request_hash=request_hash(kind=RELEASE_KIND, line=line.id, cost=line.cost),
        legs=[(hold.id, -line.cost), (wallet.id, line.cost)],
        channel="system",
        created_at=now,
        initiator_user_id=run.employer_user_id,
        note=f"pay run {run.reference}",
    )
    if run.hold_day is not None:  # a released line no longer counts against the limits
        uow.ledger.give_back_outflow(wallet.id, run.hold_day, line.cost)
    uow.wages.end_line(
        line.id, status="failed", transaction_id=transaction_id, now=now, failure=why
    )
    log.info("wage line released", extra={"line": line.id, "phone": mask(line.phone)})
