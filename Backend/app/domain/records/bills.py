"""A bill payment as the repositories read it and the channels render it (a plain record)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class BillPayment:
    id: int
    reference: str
    user_id: int
    biller_id: int
    biller_code: str
    biller_name: str
    rail: str
    account: str
    amount: int
    fee: int
    status: str
    channel: str
    hold_id: int
    hold_day: date
    outcome_id: int | None
    rail_request_id: str | None
    receipt: str | None
    failure: str | None
    check_after: datetime | None
    created_at: datetime
    ended_at: datetime | None
    # The B2B rail's (migration 0031).
    not_found_answers: int = 0
    token: str | None = None  # KPLC prepaid: the 20-digit token
    units: str | None = None

    @property
    def total(self) -> int:
        return self.amount + self.fee


@dataclass(frozen=True, slots=True)
class BillReversalRow:
    """A delivered bill's one reversal (migration 0041: bill_reversals)."""

    bill_payment_id: int
    transaction_id: int
    refund_reference: str
    reason: str
    refunded: int  # cents back to the wallet: amount + fee - cashback
    cashback_returned: int  # cents back to the promotions account
    created_at: datetime


@dataclass(frozen=True)
class BillResolutionRow:
    """A stuck bill's one resolution by an operator (migration 0048: bill_resolutions)."""

    bill_payment_id: int
    outcome: str  # delivered | failed
    receipt: str | None  # delivered: the rail's id of the payment
    grounds: str  # mpesa_statement | at_status | outbox_gave_up | statement_clear
    reason: str
    transaction_id: int  # the ending's journal transaction
    created_at: datetime
