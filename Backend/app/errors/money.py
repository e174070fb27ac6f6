"""Moving a user's money: Send money, limits and funds, M-Pesa, scheduled payments,
bills and wages."""

from __future__ import annotations

from app.errors.base import Conflict, NotFound, PayTraceError, ServiceUnavailable


class RecipientNotRegistered(NotFound):
    code = "recipient_not_registered"


class InsufficientFunds(PayTraceError):
    status_code = 422
    code = "insufficient_funds"

    def __init__(self, balance: int, needed: int) -> None:
        super().__init__("the wallet balance is too low", balance=balance, needed=needed)
        self.balance = balance
        self.needed = needed


class LimitExceeded(PayTraceError):
    """An outflow above the user's KYC tier limit; `limit` names which one."""

    status_code = 422
    code = "limit_exceeded"

    def __init__(self, limit: str, allowed: int) -> None:
        super().__init__(f"the {limit} limit would be exceeded", limit=limit, allowed=allowed)
        self.limit = limit  # 'per_transaction' | 'daily' | 'rolling_30_days'
        self.allowed = allowed  # cents still allowed under that limit


class MpesaUnavailable(ServiceUnavailable):
    """M-Pesa is not configured here (production without Daraja credentials)."""

    code = "mpesa_unavailable"


class LedgerBusy(ServiceUnavailable):
    """A change of the ledger's lock order did not get its moment: movements or a long
    read kept the accounts busy past every try (app/services/lock_order.py). Nothing
    changed; safe to retry."""

    code = "ledger_busy"


class ScheduleNotFound(NotFound):
    """No scheduled payment with this id for this user: another user's is answered the
    same, as if absent."""

    code = "schedule_not_found"


class ScheduleEnded(Conflict):
    """The scheduled payment is stopped or finished: it cannot be paused or resumed."""

    code = "schedule_ended"


class BillerNotFound(NotFound):
    code = "biller_not_found"


class BillerUnavailable(Conflict):
    """The biller is switched off, or its rail is not built yet: nothing is held."""

    code = "biller_unavailable"


class BillPaymentNotFound(NotFound):
    code = "bill_payment_not_found"


class NotAnEmployer(NotFound):
    """The user has not become an employer (POST /api/v1/employer)."""

    code = "not_an_employer"


class WorkerNotFound(NotFound):
    """No such active worker of this employer: another employer's is answered the same."""

    code = "worker_not_found"


class WorkerExists(Conflict):
    """The employer already pays a worker on this phone."""

    code = "worker_exists"


class PayRunNotFound(NotFound):
    code = "pay_run_not_found"
