"""The records the sandbox's store keeps, one per table: STK pushes, B2C and B2B
payments, callbacks, C2B URLs and payments, reversals."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StkRecord:
    checkout_request_id: str
    merchant_request_id: str
    phone: str
    amount: int
    party_b: str
    account_reference: str
    callback_url: str
    result: str
    result_code: int
    result_desc: str
    receipt: str | None  # success only
    created_at: float
    settles_at: float  # when the customer's answer (or the prompt's timeout) is known


@dataclass(frozen=True)
class B2CRecord:
    conversation_id: str
    originator_conversation_id: str
    phone: str
    amount: int
    command_id: str
    remarks: str
    occasion: str
    result_url: str
    queue_timeout_url: str
    result: str
    result_code: int
    result_desc: str
    transaction_id: str  # the receipt on success, `XXX0000000` otherwise
    created_at: float
    settles_at: float


@dataclass(frozen=True)
class B2BRecord:
    """A Business Pay Bill payment to a biller's paybill, with its outcome."""

    conversation_id: str
    originator_conversation_id: str
    party_b: str  # the biller's paybill
    account_reference: str  # the customer's account at the biller
    amount: int
    result_url: str
    queue_timeout_url: str
    result: str
    result_code: int
    result_desc: str
    transaction_id: str  # the receipt on success, `XXX0000000` otherwise
    token: str | None  # KPLC prepaid, paid: the sandbox's 20-digit token
    units: str | None
    created_at: float
    settles_at: float


@dataclass(frozen=True)
class Delivery:
    """One callback: planned with its body, then sent once (never retried, as Daraja)."""

    # stk_callback | b2c_result | b2c_queue_timeout | b2b_result | b2b_queue_timeout |
    # status_result | c2b_confirmation
    kind: str
    reference: str  # CheckoutRequestID, or the request's ConversationID
    url: str
    body: dict
    due_at: float
    id: int | None = None
    sent_at: float | None = None
    status_code: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class C2BUrls:
    shortcode: str
    response_type: str  # Completed | Cancelled: what happens when validation is not answered
    confirmation_url: str
    validation_url: str


@dataclass(frozen=True)
class C2BRecord:
    """A customer's payment to the paybill (or till): validated, then completed or not."""

    trans_id: str
    command_id: str
    shortcode: str
    phone: str
    amount: int
    bill_ref: str
    status: str  # validating | completed | rejected | cancelled
    validation: str | None  # what the validation URL answered (or why none counted)
    created_at: float
    settled_at: float | None = None


@dataclass(frozen=True)
class ReversalRecord:
    """A reversal of a payment into the paybill: done ('0') or refused, and its result."""

    conversation_id: str
    originator_conversation_id: str
    trans_id: str  # the payment reversed
    amount: int
    result_code: str
    result_desc: str
    transaction_id: str  # the reversal's own receipt (or `XXX0000000`)
    result_url: str
    created_at: float
    settles_at: float
