"""Merchants: tills, API keys and signed requests, pay orders and requests to pay,
payments, refunds, payouts and webhook endpoints."""

from __future__ import annotations

from app.errors.base import Conflict, NotFound, PayTraceError, Unauthorized, ValidationFailed


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
