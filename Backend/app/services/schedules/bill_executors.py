"""Bills and airtime as scheduled payments: kinds 'bill' and 'airtime'.

The payee is `<biller code>:<account>` ('kplc_prepaid:12345678901',
'airtime_safaricom:+254712345678'), checked with the amount against the biller when the
schedule is made; each occurrence is held through bills/payments.hold_bill (no PIN: the
owner gave it when scheduling; channel 'system') with the occurrence's own key, and the
rail ends the bill as any other (delivered, or released). No funds or a limit: the
schedule's own retries (services/schedules/runs.py).
"""

from __future__ import annotations

from datetime import datetime

from app.db.unit_of_work import UnitOfWork
from app.domain.phone import local
from app.domain.records.schedules import Schedule
from app.errors import refused
from app.services.bills import catalogue
from app.services.bills.payments import BillRequest, hold_bill
from app.services.ledger import scoped_key
from app.services.schedules.executors import Payee, Payment
from app.services.transfers import MAX_TRANSFER


def split_payee(payee: str) -> tuple[str, str]:
    """'kplc_prepaid:12345678901' -> ('kplc_prepaid', '12345678901'); raises
    ValidationFailed ('invalid_payee')."""
    code, sep, account = payee.partition(":")
    if not sep or not code or not account:
        raise refused("invalid_payee", "payee: <biller code>:<account>")
    return code, account


class BillExecutor:
    """Pay a biller (kind 'bill') or buy airtime (kind 'airtime') on a schedule."""

    # The billers' own ranges are checked with the payee; this is only the outer bound.
    max_amount = MAX_TRANSFER

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def payee(
        self,
        uow: UnitOfWork,
        owner_user_id: int,
        payee: str,
        *,
        amount: int,
        bill_rails: tuple[str, ...],
    ) -> Payee:
        code, raw = split_payee(payee)
        with uow:
            found = catalogue.biller(uow, code)
        if (found.category == "airtime") != (self.kind == "airtime"):
            raise refused("invalid_payee", f"a {self.kind} biller is required")
        account = catalogue.check_account(found, raw)
        catalogue.check_amount(found, amount)
        catalogue.payable(found, bill_rails)
        shown = local(account) if account.startswith("+") else account
        return Payee(key=f"{found.code}:{account}", name=f"{found.name} {shown}")

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
        del due_at  # a bill is paid as of when it runs
        code, account = split_payee(schedule.payee)
        held = hold_bill(
            uow,
            BillRequest(
                user_id=schedule.owner_user_id,
                biller_code=code,
                account=account,
                amount=schedule.amount,
                idempotency_key=idempotency_key,
                channel="system",
            ),
            open_rails=bill_rails,
            now=now,
        )
        return Payment(held.payment.hold_id, held.payment.reference)

    def made(self, uow: UnitOfWork, schedule: Schedule, idempotency_key: str) -> Payment | None:
        # The bill's hold is posted under the bill's own scoped key (bills/payments).
        key = scoped_key("bill", schedule.owner_user_id, idempotency_key)
        found = uow.ledger.find(key=key)
        return Payment(found.id, found.reference) if found is not None else None

    def abandon(
        self, uow: UnitOfWork, schedule: Schedule, idempotency_key: str, now: datetime
    ) -> Payment | None:
        del now  # a bill's hold is one posting: made whole or not at all
        return self.made(uow, schedule, idempotency_key)
