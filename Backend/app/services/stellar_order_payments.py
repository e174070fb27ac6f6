"""A payment to the treasury naming a pay order (by memo or mux id), taken by the
incoming watcher: the order paid, or the payment owed back to its sender.

It runs inside the watcher's transaction (services/incoming_payments.record), which
already holds the cursor's row; then, as every payer of an order does, the order's row
FIRST, then the ledger accounts in their lock order (docs/merchants.md). So a
Stellar payment and a wallet payment of one order at once queue on the order's row:
the first commits `paid`, the second finds it paid. Nothing here waits for an account
while holding one.

The exact amount of a payable order pays it: one journal transaction of kind
`stellar_order_payment` from `stellar_clearing` to the merchant's account, less the
merchant's fee (its rule, as a till payment), already settled on-chain (the KES is in
the treasury, which holds merchants' money); the order marked paid (its `order.paid`
event with it) and the merchant's SMS, one COMMIT with the watcher's record.

Anything else (a partial or excess amount, a fraction of a cent, an expired, canceled
or already paid order, a code no order has, a suspended merchant) is never kept
silently: it is recorded `owed_back`, with the reason and the sender's address, and
its refund queued in the same transaction (`stellar_refunds`, pending); the refunder
sends exactly what arrived back to the sender, once (services/stellar_refunds.py;
docs/stellar.md, "Orders paid on Stellar").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from app.db.repositories.incoming import IncomingPayment
from app.db.unit_of_work import UnitOfWork
from app.domain import pay_orders as rules
from app.domain.money import format_kes, new_reference
from app.domain.records.merchants import MerchantRow
from app.domain.records.pay_orders import PayOrderRow
from app.domain.records.stellar_refunds import RefundRow
from app.integrations.stellar import cents_to_amount
from app.services import merchant_accounts, orders
from app.services.ledger import request_hash, sms_time
from app.services.merchant_payments import rail_payments
from app.services.merchant_payments.tills import merchant_fee
from app.services.notifications import sms_message
from app.services.stellar_order_links import OrderNamed, shorten
from app.services.transfers import fees_shard

log = logging.getLogger("paytrace.stellar.incoming")

KIND = "stellar_order_payment"
# A mux id is any uint64; an order's id is a BIGINT. A larger one names no order (and
# must not reach PostgreSQL, whose error would stop the watcher at that payment).
_MAX_ORDER_ID = 2**63 - 1
# An order code may come round again once its order is paid, expired or canceled: a
# payment whose ledger closed before the order named by its code existed was meant
# for an older one. Allowed this much for the network's clock against PayTrace's.
_CLOCKS_APART = timedelta(minutes=1)
OWED_PAGE_MAX = 200
PAID = "order_paid"
OWED_BACK = "owed_back"


class Arrived(Protocol):
    """The payment as the watcher sorted it (incoming_payments.Sorted)."""

    @property
    def operation_id(self) -> str: ...
    @property
    def tx_hash(self) -> str: ...
    @property
    def from_address(self) -> str: ...
    @property
    def cents(self) -> int: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def closed_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Taken:
    """What became of the payment: `order_paid` (transaction_id set) or `owed_back`."""

    outcome: str
    reason: str | None
    order_id: int | None
    transaction_id: int | None = None


def take(uow: UnitOfWork, payment: Arrived, named: OrderNamed, now: datetime) -> Taken:
    """Pay the order `named` with `payment`, or owe the payment back; inside the caller's
    transaction (it neither opens nor commits one). `payment.reason`, when set, is why
    it cannot pay any order (a fraction of a cent). Raises nothing of its own: every
    refusal is an answer."""
    order = _locked_order(uow, named)
    if order is None:
        return _owed(payment, f"no order with {named}", None)
    if payment.reason is not None:
        return _owed(payment, payment.reason, order.id)
    if payment.closed_at is not None and payment.closed_at < order.created_at - _CLOCKS_APART:
        return _owed(payment, f"paid before order {order.code} was created", None)
    # In time or late is the network's word: its ledger's close time, never when this
    # watcher got to it (a watcher catching up after a restart or an outage would owe
    # back payments made in time). The order was created by another process whose
    # clock may run a little ahead of the network's: paid no earlier than created (the
    # table's CHECK), never a stuck watcher. The order is paid as of that time.
    now = max(payment.closed_at or now, order.created_at)
    problem = rules.payable_problem(order.status, order.expires_at, now)
    if problem is not None:
        return _owed(payment, f"order {order.code} is {problem}", order.id)
    if payment.cents != order.amount:
        return _owed(
            payment,
            f"wrong amount: paid KES {cents_to_amount(payment.cents)},"
            f" order {order.code} is KES {cents_to_amount(order.amount)}",
            order.id,
        )
    merchant = uow.merchants.get(order.merchant_id)
    assert merchant is not None  # an order's merchant is never deleted
    if merchant.status != "active":
        return _owed(payment, f"merchant {merchant.till_number} is {merchant.status}", order.id)
    transaction_id = _post(uow, payment, order, merchant, now)
    orders.mark_paid(uow, order.id, transaction_id, order.amount, now)
    rail_payments.record(
        uow,
        transaction_id=transaction_id,
        order=order,
        merchant=merchant,
        channel=rail_payments.STELLAR,
        payer=rail_payments.stellar_payer(payment.tx_hash, payment.from_address),
        paid_at=now,
    )
    return Taken(PAID, None, order.id, transaction_id)


def _locked_order(uow: UnitOfWork, named: OrderNamed) -> PayOrderRow | None:
    """The order's row, locked until the watcher's COMMIT: by id (a mux id), or the
    newest with the code (codes are unique among live orders; a mistyped one, its
    check digit wrong, names none)."""
    if named.order_id is not None:
        if not 0 < named.order_id <= _MAX_ORDER_ID:
            return None
        return uow.pay_orders.get(named.order_id, for_update=True)
    assert named.code is not None
    if not rules.is_order_code(named.code):
        return None
    return uow.pay_orders.newest_by_code(named.code, for_update=True)


def _owed(payment: Arrived, reason: str, order_id: int | None) -> Taken:
    log.warning(
        "stellar order payment owed back",
        extra={
            "operation_id": payment.operation_id,
            "tx_hash": payment.tx_hash,
            "reason": reason,
            "order_id": order_id,
        },
    )
    return Taken(OWED_BACK, reason, order_id)


def _post(
    uow: UnitOfWork, payment: Arrived, order: PayOrderRow, merchant: MerchantRow, now: datetime
) -> int:
    """The movement and the merchant's SMS; returns the journal transaction's id."""
    # The money goes to shard 0, the only one of the merchant's accounts locked here.
    locked = uow.ledger.accounts(
        account_ids=[merchant.account_id], codes=["stellar_clearing", fees_shard(order.id)]
    )
    clearing = next(a for a in locked if a.code == "stellar_clearing")
    till_account = next(a for a in locked if a.id == merchant.account_id)
    fees = next(a for a in locked if a.kind == "fees")
    amount = order.amount
    fee = merchant_fee(merchant.fee, amount)
    legs = [(clearing.id, -amount), (till_account.id, amount)]
    if fee:
        legs += [(till_account.id, -fee), (fees.id, fee)]
    reference = new_reference()
    named = ", ".join(part for part in (order.description, order.merchant_reference) if part)
    return uow.ledger.post(
        reference=reference,
        kind=KIND,
        amount=amount,
        fee=fee,  # the merchant's, as a till payment's
        idempotency_key=f"stellar-in:{payment.operation_id}",
        request_hash=request_hash(
            kind=KIND, operation_id=payment.operation_id, order=order.id, amount=amount
        ),
        legs=legs,
        channel="system",
        created_at=now,
        note=f"{merchant.display_name} (order {order.code}) Stellar {payment.from_address}",
        messages=(
            sms_message(
                to=merchant.contact_phone,
                template="merchant_order_paid_on_stellar",
                language=merchant.language,
                dedupe_key=f"journal:{reference}:merchant:{merchant.id}",
                reference=reference,
                code=order.code,
                order=f" ({named})" if named else "",
                amount=format_kes(amount),
                sender=shorten(payment.from_address),
                when=sms_time(now),
                fee=format_kes(fee),
                balance=format_kes(merchant_accounts.held(uow, merchant) + amount - fee),
            ),
        ),
        on_chain_hash=payment.tx_hash,
    )


@dataclass(frozen=True, slots=True)
class OwedBack:
    """A payment owed back to its sender, as an operator reads it."""

    payment: IncomingPayment
    seen_at: datetime
    refund: RefundRow  # pending, signed (being sent) or failed (an operator's)


def owed_back(uow: UnitOfWork, limit: int) -> list[OwedBack]:
    """Payments owed back to their senders and not yet sent back, oldest first, each
    with when the watcher saw it and its refund: an operator's list (GET
    /api/v1/admin/stellar/owed-back). Raises ValueError for a limit out of range,
    ServiceUnavailable."""
    if not 1 <= limit <= OWED_PAGE_MAX:
        raise ValueError(f"limit must be 1..{OWED_PAGE_MAX}")
    with uow:
        return [OwedBack(*row) for row in uow.incoming.owed_back(limit)]
