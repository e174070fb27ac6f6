""" "Repeat monthly" on a payment's confirmation (USSD's Send money, Buy airtime, Pay a
bill): the payment made now with the PIN, and a monthly schedule of the same payment.

The schedule asks no PIN of its own: the payment's was given on the same hop. So it is
made only when the ledger holds the owner's payment of that kind under the payment's
own idempotency key, to the schedule's payee and of its amount; without that proof this
is no way round the PIN. The schedule's key is the payment's key, so a retried hop
answers the same schedule, never a second.
"""

from __future__ import annotations

from datetime import datetime

from app.db.repositories.ledger import JournalEntry
from app.db.unit_of_work import UnitOfWork
from app.domain.bills import AT_AIRTIME
from app.errors import refused
from app.services.ledger import scoped_key
from app.services.schedules.manage import Created, NewSchedule, create

# The ledger scope each repeatable kind's payment is keyed under (transfers.transfer_key,
# bills/payments: a bill and airtime are both held as a bill).
PAID_SCOPE = {"transfer": "transfer", "bill": "bill", "airtime": "bill"}


def repeat_payment(
    uow: UnitOfWork,
    new: NewSchedule,
    paid_key: str,
    now: datetime,
    *,
    bill_rails: tuple[str, ...] = (AT_AIRTIME,),
) -> Created:
    """Schedule `new`, the repeat of the payment its owner made with the PIN under
    `paid_key`; commits. Raises ValidationFailed ('invalid_kind': not a repeatable kind;
    'not_paid': the ledger holds no such payment of the owner, to that payee, of that
    amount), then what
    manage.create raises."""
    scope = PAID_SCOPE.get(new.kind)
    if scope is None:
        raise refused("invalid_kind", f"kind: one of {', '.join(PAID_SCOPE)}")
    with uow:
        paid = uow.ledger.find(key=scoped_key(scope, new.owner_user_id, paid_key))
        if paid is None or paid.amount != new.amount or _payee_of(uow, paid) != new.payee:
            raise refused("not_paid", "no payment of yours under this key to repeat")
    return create(uow, new, now, bill_rails=bill_rails)


def _payee_of(uow: UnitOfWork, paid: JournalEntry) -> str | None:
    """Whom the payment paid, as a schedule names a payee: a transfer's recipient phone,
    a bill's 'biller_code:account' (a schedule repeats the payment made, no other)."""
    bill = uow.bill_payments.by_hold(paid.id)
    if bill is not None:
        return f"{bill.biller_code}:{bill.account}"
    credited = [leg.user_id for leg in paid.legs if leg.amount > 0 and leg.user_id is not None]
    if len(credited) != 1:
        return None
    recipient = uow.users.get_by_id(credited[0])
    return recipient.phone if recipient is not None else None
