"""Merchants and their API keys as stored: plain records repositories build, services
return and channels render (see app/domain/records/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from app.domain.merchant_payouts import status_of as payout_status
from app.domain.merchants import FeeRule


@dataclass(frozen=True, slots=True)
class MerchantRow:
    id: int
    legal_name: str
    display_name: str
    till_number: str
    contact_phone: str
    payout_phone: str
    payout_schedule: str  # on_request | daily
    fee_bps: int
    fee_min_cents: int
    fee_max_cents: int
    status: str  # active | suspended
    account_id: int
    balance: int  # cents: the merchant account's balance, read from the ledger
    created_at: datetime
    language: str = "en"  # of its SMS: en | sw
    # Daily payouts (migration 0038): what stays in the account, and the least a daily
    # payout is made for (0: any amount M-Pesa pays). Cents.
    payout_keep_cents: int = 0
    payout_threshold_cents: int = 0

    @property
    def fee(self) -> FeeRule:
        return FeeRule(self.fee_bps, self.fee_min_cents, self.fee_max_cents)


@dataclass(frozen=True, slots=True)
class MerchantKeyRow:
    """An API key as an operator sees it: never its secret."""

    key_id: str
    merchant_id: int
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def live(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class SigningKey:
    """What checking a signature needs: the key's encrypted secret, and whether the key
    and its merchant may sign at all."""

    key_id: str
    merchant_id: int
    secret_ct: str
    revoked: bool
    merchant_status: str
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReceivedPayment:
    """A payment to a merchant's till, as the merchant is shown it."""

    transaction_id: int
    reference: str
    amount: int  # cents the payer paid
    fee: int  # cents the merchant's fee took from it
    payer_name: str | None  # the wallet's owner, or the first name M-Pesa gave (or None)
    payer_phone: str | None  # a wallet's E.164 (shown masked), or an M-Pesa phone MASKED
    channel: str  # ussd | api | mpesa | stellar ...
    created_at: datetime
    rail_receipt: str | None = None  # M-Pesa's receipt or the Stellar transaction's hash
    stellar_sender: str | None = None  # the Stellar address that paid


@dataclass(frozen=True, slots=True)
class RailPayer:
    """Who paid an order from a rail, as its merchant_payments row keeps them."""

    receipt: str  # M-Pesa's receipt (TransID) or the Stellar transaction's hash
    payer: str | None  # the M-Pesa phone MASKED, or the Stellar sender's address
    payer_name: str | None = None  # the first name M-Pesa gave, if any


@dataclass(frozen=True, slots=True)
class RefundablePayment:
    """A payment to a till as a refund reads it."""

    transaction_id: int
    reference: str
    payer_user_id: int | None  # None: paid from a rail (M-Pesa, Stellar)
    amount: int  # cents paid
    refunded_amount: int  # cents refunded so far
    reversed: bool  # an operator reversed it: its money is back with the payer
    order_id: int | None = None  # the pay order it paid, if any
    channel: str = "ussd"  # how it was paid: a wallet's channel, 'mpesa' or 'stellar'
    rail_receipt: str | None = None  # paid from a rail: the M-Pesa TransID, the tx hash
    rail_payer: str | None = None  # the Stellar sender's address (an M-Pesa phone masked)


@dataclass(frozen=True, slots=True)
class RefundRow:
    id: int
    public_id: str  # re_<24 hex>: what the merchant API names it by
    merchant_id: int
    payment_reference: str
    amount: int  # cents
    reason: str | None
    status: str  # pending | succeeded | failed
    refund_reference: str | None  # the refund's own journal reference, once it succeeded
    failure_reason: str | None
    created_at: datetime
    succeeded_at: datetime | None
    failed_at: datetime | None


def refund_snapshot(refund: RefundRow) -> dict[str, object]:
    """The refund as the merchant API answers it (and as a replay repeats it)."""
    return {
        "id": refund.public_id,
        "payment": refund.payment_reference,
        "amount": refund.amount,
        "reason": refund.reason,
        "status": refund.status,
        "refund_reference": refund.refund_reference,
        "failure_reason": refund.failure_reason,
        "created_at": refund.created_at.isoformat(),
        "succeeded_at": refund.succeeded_at.isoformat() if refund.succeeded_at else None,
        "failed_at": refund.failed_at.isoformat() if refund.failed_at else None,
    }


@dataclass(frozen=True, slots=True)
class PayoutRow:
    """A payout of a merchant's balance to its M-Pesa, with the withdrawal that carries
    it (its hold, B2C payment and ending)."""

    id: int
    public_id: str  # po_<24 hex>: what the merchant API names it by
    merchant_id: int
    origin: str  # request | admin | daily
    payout_day: date | None  # the East Africa day of a daily payout
    withdrawal_id: int
    reference: str  # the hold's journal reference
    phone: str  # E.164: the M-Pesa number paid
    amount: int  # cents M-Pesa pays
    fee: int  # cents the merchant's account pays for it
    withdrawal_status: str  # held | submitted | completed | released | review
    ended: bool  # its hold was paid out or released in the ledger
    receipt: str | None  # M-Pesa's receipt once paid
    result_desc: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def status(self) -> str:
        """pending | paid | failed (app/domain/merchant_payouts.py)."""
        return payout_status(self.withdrawal_status, self.ended)
