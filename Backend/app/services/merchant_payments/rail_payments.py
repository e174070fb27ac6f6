"""A pay order paid from a rail (M-Pesa, Stellar) is a payment to the merchant's till like
one paid from a wallet: its merchant_payments row is written here, inside the transaction
that posts the movement and marks the order paid (the rail's own service calls it right
after `orders.mark_paid`), so the merchant finds it in GET /payments and a refund has a
payment to count against. The payer is no PayTrace user: the row keeps what the rail
names them by - an M-Pesa receipt and the phone MASKED (the whole number stays with the
M-Pesa payment's own row, for the rail's refund), or the Stellar transaction and its
sender's address."""

from __future__ import annotations

from datetime import datetime

from app.db.unit_of_work import UnitOfWork
from app.domain.phone import mask
from app.domain.records.merchants import MerchantRow, RailPayer
from app.domain.records.pay_orders import PayOrderRow
from app.services.merchant_payments.tills import merchant_fee

MPESA = "mpesa"
STELLAR = "stellar"
RAILS = (MPESA, STELLAR)
_NAME_MAX = 100  # merchant_payments.rail_payer_name's CHECK


def mpesa_payer(receipt: str, whole_phone: str | None, first_name: str | None) -> RailPayer:
    """The M-Pesa payer as shown: the phone masked (None when M-Pesa gave no whole number:
    it may mask or hash it), the first name it gave."""
    name = (first_name or "").strip()[:_NAME_MAX] or None
    return RailPayer(receipt, mask(whole_phone) if whole_phone else None, name)


def stellar_payer(tx_hash: str, sender: str) -> RailPayer:
    return RailPayer(tx_hash, sender)


def record(
    uow: UnitOfWork,
    *,
    transaction_id: int,
    order: PayOrderRow,
    merchant: MerchantRow,
    channel: str,
    payer: RailPayer,
    paid_at: datetime,
) -> None:
    """Write the payment's row (the order's amount, the merchant's fee on it) in the
    caller's transaction, the one that posted `transaction_id`. Raises nothing of its
    own (the table's CHECKs hold the rail's payer to the channel)."""
    assert channel in RAILS
    uow.merchants.record_payment(
        transaction_id=transaction_id,
        merchant_id=merchant.id,
        payer_user_id=None,
        amount=order.amount,
        fee=merchant_fee(merchant.fee, order.amount),
        channel=channel,
        created_at=paid_at,
        order_id=order.id,
        rail=payer,
    )
