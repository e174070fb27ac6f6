"""M-Pesa deposits, withdrawals and reconciliation reports as stored.

Plain records (no behaviour but what derives from their own fields): repositories
build them, services return them, channels render them. They live in the domain so
that no layer reaches into app/db/repositories for a type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

# The withdrawal statuses in which the hold is still open.
OPEN_WITHDRAWAL = ("held", "submitted")


@dataclass(frozen=True, slots=True)
class StoredMpesaReport:
    id: int
    day: date
    version: int
    source: str
    started_at: datetime
    finished_at: datetime
    matched: int
    differences: int
    totals: dict


@dataclass(frozen=True, slots=True)
class StoredItem:
    id: int
    kind: str
    direction: str
    paytrace_reference: str | None
    paytrace_status: str | None
    paytrace_amount: int | None
    paytrace_at: datetime | None
    mpesa_receipt: str | None
    mpesa_amount: int | None
    mpesa_at: datetime | None
    mpesa_reference: str | None
    mpesa_counterparty: str | None
    delta: int
    record: str | None = None  # deposit, withdrawal, ... (RECORDS); None: missing at PayTrace


@dataclass(frozen=True)
class Withdrawal:
    id: int
    reference: str  # the hold's journal reference
    user_id: int | None  # whose wallet it came from; None for a merchant's payout
    phone: str  # E.164
    amount: int  # cents paid out to M-Pesa
    fee: int  # cents
    channel: str
    originator_conversation_id: str
    conversation_id: str | None
    status: str  # held | submitted | completed | released | review
    hold_id: int
    outcome_id: int | None
    hold_day: date
    result_code: str | None
    result_desc: str | None
    receipt: str | None
    check_after: datetime | None
    status_queries: int
    not_found: int
    query_conversation_id: str | None
    created_at: datetime
    updated_at: datetime
    merchant_id: int | None = None  # whose merchant account it came from (a payout)

    @property
    def owner_id(self) -> int:
        """The user's or the merchant's id: which hold and fee shards it uses."""
        owner = self.merchant_id if self.merchant_id is not None else self.user_id
        assert owner is not None  # the database holds exactly one of the two
        return owner

    @property
    def total(self) -> int:
        """What the hold took from the wallet (or the merchant's account)."""
        return self.amount + self.fee

    @property
    def open(self) -> bool:
        return self.status in OPEN_WITHDRAWAL


@dataclass(frozen=True)
class Deposit:
    id: int
    reference: str
    user_id: int
    phone: str  # E.164
    amount: int  # cents
    channel: str
    request_key: str
    request_hash: str
    # requested | pending | confirming | completed | failed | disputed | unknown
    status: str
    merchant_request_id: str | None
    checkout_request_id: str | None
    result_code: str | None
    result_desc: str | None
    receipt: str | None
    transaction_id: int | None
    queries: int
    next_check_at: datetime | None
    created_at: datetime
    updated_at: datetime
    query_errors: int = 0  # STK queries answered with an HTTP error
    last_query_error: str | None = None


@dataclass(frozen=True)
class OrderPayment:
    """A payment from M-Pesa toward a pay order (mpesa_order_payments)."""

    id: int
    source: str  # c2b
    trans_id: str  # M-Pesa's receipt
    bill_ref: str  # the account number the customer typed
    amount: int  # cents
    msisdn: str | None
    payer_name: str | None
    status: str  # confirming | paid | not_found | returning | returned | review
    order_id: int | None
    transaction_id: int | None
    not_found: int
    result_desc: str | None
    received_at: datetime
    next_check_at: datetime | None
    settled_at: datetime | None
    owed_transaction_id: int | None = None  # owed back to the payer
    returned_transaction_id: int | None = None  # and returned
    reversal_conversation_id: str | None = None
    reversal_originator_id: str | None = None  # a status query finds the reversal by it


@dataclass(frozen=True)
class OrderPush:
    """An STK push a merchant asked for, for one of its orders (mpesa_order_pushes)."""

    id: int
    order_id: int
    phone: str  # E.164
    amount: int  # cents
    status: str  # requested | pending | answered | failed | unknown
    checkout_request_id: str | None
    result_code: str | None
    result_desc: str | None
    created_at: datetime
    next_check_at: datetime | None = None  # when to ask M-Pesa (STK query) if no callback
