"""One error hierarchy for PayTrace.

Business errors carry an HTTP status and a stable code; the API renders them as
`{"error": code, "detail": message}` and USSD turns them into a re-prompt or an
END. Anything not derived from PayTraceError is a bug and answers a generic 500
(REST) or an apology END (USSD), never a stack trace.

Long (over 300 lines) because it is one declaration per business error, each with its
HTTP status and code, so both channels render every refusal the same way.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime


class PayTraceError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str = "", **context: object) -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code
        self.context = context

    @property
    def headers(self) -> dict[str, str] | None:
        """HTTP headers the API adds to this error's answer (e.g. Retry-After)."""
        return None

    def body_fields(self) -> dict[str, object]:
        """Fields the API adds to `{"error", "detail"}` (e.g. a lock's end)."""
        return {}


class ValidationFailed(PayTraceError):
    status_code = 422
    code = "validation_failed"


def refused(code: str, detail: str) -> ValidationFailed:
    """A ValidationFailed whose code names the reason (the API renders exc.code): the one
    way every layer says "this input is refused, and why"."""
    error = ValidationFailed(detail, reason=code)
    error.code = code
    return error


class NotFound(PayTraceError):
    status_code = 404
    code = "not_found"


class Conflict(PayTraceError):
    status_code = 409
    code = "conflict"


class AlreadyRegistered(Conflict):
    code = "already_registered"


class Unauthorized(PayTraceError):
    status_code = 401
    code = "unauthorized"


class InvalidCredentials(Unauthorized):
    """Sign-in refused. One answer for an unknown phone, a wrong or expired code and a
    wrong PIN, so that nobody learns from it who is registered."""

    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("the phone number, code or PIN is not right")


class InvalidToken(Unauthorized):
    """An access or refresh token that is malformed, expired, revoked or already used."""

    code = "invalid_token"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class Forbidden(PayTraceError):
    status_code = 403
    code = "forbidden"


class WrongPin(Unauthorized):
    code = "wrong_pin"

    def __init__(self, attempts_left: int) -> None:
        plural = "s" if attempts_left != 1 else ""
        super().__init__(
            f"wrong PIN: {attempts_left} attempt{plural} left", attempts_left=attempts_left
        )
        self.attempts_left = attempts_left


class PinLocked(Forbidden):
    """Money-out is locked by wrong PINs until `until` (timezone-aware); the REST answer
    carries it as `locked_until`."""

    code = "pin_locked"

    def __init__(self, until: datetime, *, now: datetime | None = None) -> None:
        seconds_left = max(1, math.ceil((until - (now or datetime.now(UTC))).total_seconds()))
        minutes = -(-seconds_left // 60)
        super().__init__(
            f"too many wrong PINs: try again in {minutes} minute{'s' if minutes != 1 else ''}",
            seconds_left=seconds_left,
        )
        self.until: datetime | None = until
        self.seconds_left: int | None = seconds_left

    @property
    def reset_required(self) -> bool:
        return self.until is None

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.seconds_left)} if self.seconds_left else None

    def body_fields(self) -> dict[str, object]:
        until = self.until.astimezone(UTC).isoformat() if self.until else None
        return {"locked_until": until, "reset_required": self.reset_required}


class PinResetRequired(PinLocked):
    """Locked too many times: only an operator's unlock or a reset with a code sent by
    SMS opens the PIN again (`until` is None)."""

    code = "pin_reset_required"

    def __init__(self) -> None:
        Forbidden.__init__(
            self,
            "too many wrong PINs: reset the PIN with a code sent by SMS, or call support",
        )
        self.until = None
        self.seconds_left = None


class RateLimited(PayTraceError):
    """Too many requests of one kind from one phone or address; retry after a while."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many requests: try again in {retry_after_s} seconds")
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class InviteLimitReached(PayTraceError):
    """The sender has sent the day's invitation SMS (INVITES_PER_SENDER_PER_DAY)."""

    status_code = 429
    code = "invite_limit_reached"

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} invitations a day: try again tomorrow", limit=limit)
        self.limit = limit


class ServiceUnavailable(PayTraceError):
    """A dependency (PostgreSQL, Redis) cannot be reached; safe to retry later."""

    status_code = 503
    code = "service_unavailable"


class AuditUnavailable(ServiceUnavailable):
    """An admin request's audit row could not be written: whatever it would have done is
    rolled back with it (app/services/admin_audit.py)."""

    code = "audit_unavailable"


class IdempotencyConflict(Conflict):
    """The idempotency key was already used for a different request."""

    code = "idempotency_key_reused"


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


class TillTaken(Conflict):
    """Another merchant has this till number (or this one was onboarded differently)."""

    code = "till_taken"


class MerchantNotFound(NotFound):
    """No merchant has this till number."""

    code = "merchant_not_found"


class MerchantUnavailable(PayTraceError):
    """The merchant exists but takes no payments now (suspended)."""

    status_code = 422
    code = "merchant_unavailable"


class TooManyKeys(Conflict):
    """The merchant has its two live API keys: revoke one before issuing another."""

    code = "too_many_keys"


class InvalidSignature(Unauthorized):
    """A merchant request whose PayTrace-Signature does not hold. One code for every
    reason; the detail names the reason only where it tells a stranger nothing (a
    malformed header, a stale timestamp, a replay), never which of key or MAC failed."""

    code = "invalid_signature"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "PayTrace-Signature"}


class IdempotencyKeyRequired(PayTraceError):
    """A merchant POST without an Idempotency-Key header: a retry could not be told from
    a second request."""

    status_code = 400
    code = "idempotency_key_required"


class OrderNotFound(NotFound):
    """No pay order with this id (or code) for this caller: another merchant's order is
    answered the same, as if absent."""

    code = "order_not_found"


class OrderNotCancelable(Conflict):
    """Only an order awaiting payment can be canceled (a paid one is refunded instead)."""

    code = "order_not_cancelable"


class OrderNotPayable(Conflict):
    """The order can no longer be paid; `code` says why: order_expired, order_canceled,
    order_paid, or (for now) order_in_progress: an M-Pesa payment of it is under way."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"this order is {reason}: it cannot be paid")
        self.code = f"order_{reason}"


class WrongOrderAmount(ValidationFailed):
    """A payment that is not exactly the order's amount: refused, never kept in part."""

    code = "wrong_amount"


class PayerNotRegistered(ValidationFailed):
    """A request to pay names a phone that is no PayTrace user: PayTrace does not SMS a
    stranger on a merchant's word (give them the order's code instead)."""

    code = "payer_not_registered"


class OrderAlreadyRequested(Conflict):
    """The order has a pending request to pay already: one at a time."""

    code = "order_already_requested"


class PayRequestNotPending(Conflict):
    """The request to pay was approved, declined, canceled or has expired meanwhile (or
    is not this payer's)."""

    code = "request_not_pending"


class PaymentNotFound(NotFound):
    """No payment with this reference to this merchant's till: another merchant's payment
    is answered the same, as if absent."""

    code = "payment_not_found"


class RefundNotFound(NotFound):
    code = "refund_not_found"


class NotRefundable(Conflict):
    """The refund cannot be made as asked; `code` says why: payment_fully_refunded,
    exceeds_refundable (more than is left of the payment), insufficient_merchant_balance
    (the merchant's account holds less than the refund: it is never taken below zero),
    refund_through_rail_unavailable (paid from a rail that named no payer to send it back
    to: M-Pesa gave no whole phone number, Stellar no sender)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class PayoutNotFound(NotFound):
    code = "payout_not_found"


class PayoutRefused(Conflict):
    """The payout cannot be made as asked; `code` says why: insufficient_merchant_balance
    (the account holds less than the amount and its fee: it is never taken below zero),
    nothing_to_pay_out (the account holds less than the smallest payout and its fee)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class TooManyEndpoints(Conflict):
    """A merchant has as many enabled webhook endpoints as it may: disable one first."""

    code = "too_many_endpoints"


class EndpointDisabled(Conflict):
    """A ping to a disabled webhook endpoint: enable it first."""

    code = "endpoint_disabled"


class OperatorExists(Conflict):
    """An operator with this email exists (`app.cli.operators create`)."""

    code = "operator_exists"


class LastAdmin(Conflict):
    """The change would leave the console without an enabled admin."""

    code = "last_admin"


class OwnAccount(Conflict):
    """An admin may not demote or disable themselves: they could lock themselves out."""

    code = "own_account"


class SignInRefused(Unauthorized):
    """A console sign-in with a wrong email, password or TOTP code (which one is not said),
    or a disabled operator."""

    code = "sign_in_refused"

    def __init__(self) -> None:
        super().__init__("wrong email, password or code")


class SignInSlowed(RateLimited):
    """Five or more wrong console sign-ins in a row: the next try waits (no check is made)."""

    code = "sign_in_slowed"


class SignInThrottled(RateLimited):
    """Too many failed console sign-ins from one client address: every try from it waits
    (no check is made), whatever account it names."""

    code = "sign_in_throttled"

    def __init__(self, retry_after_s: int) -> None:
        PayTraceError.__init__(
            self,
            f"too many failed sign-ins from your address: try again in {retry_after_s} seconds",
        )
        self.retry_after_s = retry_after_s


class SignInRequired(Unauthorized):
    """A console page without a live session (none, expired, or signed out)."""

    code = "sign_in_required"


class CsrfRejected(Forbidden):
    """A console form posted without this session's CSRF token."""

    code = "csrf_rejected"


class RoleRefused(Forbidden):
    """The operator's role does not allow this console action."""

    code = "role_refused"


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
