"""Refunds of pay orders paid on Stellar, sent back on-chain to the sender's account
exactly once by the refunder that sends back payments owed back
(services/stellar_refunds.py: the envelope saved before it is submitted, the same bytes
on every retry).

Asked (merchant_refunds.refund, in its transaction, the order's row already locked):
the merchant's account and 'stellar_refund_hold' are locked (one statement, lock order),
then the payment's row; the refund is held from the merchant's account (journal kind
`stellar_order_refund`: both sides are the treasury's on-chain, so nothing settles),
counted at once against the payment's `refunded_amount` (two refunds at once never
exceed what was paid), recorded `pending`, and its on-chain refund queued - a
`stellar_refunds` row keyed by its own id and naming this refund (each partial refund
its own), the refunder's outbox - all in that one transaction.

The refunder's answer ends it (`sent` / `failed`, in record_answer's transaction, the
order's row taken first): sent, the hold goes to stellar_clearing (kind
`stellar_order_refund_sent`, settled already by the refund's own transaction: the
treasury paid the sender), the refund `succeeded`, the order partially_refunded or
refunded, `refund.succeeded`; refused for good (the sender dropped its trustline, its
account is gone), the hold back to the merchant's account (kind
`stellar_order_refund_release`), the count given back, the refund `failed`,
`refund.failed`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from app.db.repositories.ledger import LockedAccount, Overdraft
from app.db.unit_of_work import UnitOfWork
from app.domain.money import format_kes, new_reference
from app.domain.records.merchants import MerchantRow
from app.domain.records.stellar_refunds import RefundRow as OnChainRefund
from app.errors import NotRefundable
from app.integrations.stellar import STROOPS_PER_UNIT
from app.services import merchant_accounts
from app.services.ledger import request_hash
from app.services.merchant_accounts import MerchantFunds
from app.services.rail_refunds import Asked, Pending, failed, succeeded

log = logging.getLogger("paytrace.merchants")

HOLD = "stellar_refund_hold"
STROOPS_PER_CENT = STROOPS_PER_UNIT // 100


def lock_merchant(uow: UnitOfWork, merchant: MerchantRow) -> tuple[MerchantFunds, LockedAccount]:
    """The merchant's accounts and the refunds' hold, locked (one statement, lock order)."""
    funds, others = merchant_accounts.lock(uow, merchant, codes=[HOLD])
    return funds, next(a for a in others if a.code == HOLD)


def hold_stellar(
    uow: UnitOfWork,
    asked: Asked,
    account: MerchantFunds,
    hold: LockedAccount,
    *,
    now: datetime,
) -> int:
    """Hold the refund from the merchant's accounts, record it pending and queue its
    on-chain refund to the sender, in the caller's transaction; returns the refund's id.
    Raises NotRefundable ('insufficient_merchant_balance', 'refund_through_rail_unavailable':
    no sender's address)."""
    to_address = asked.payment.rail_payer
    if not to_address:
        raise NotRefundable(
            "refund_through_rail_unavailable", "no Stellar account is known to send it back to"
        )
    if account.balance < asked.amount:
        raise NotRefundable(
            "insufficient_merchant_balance",
            f"the merchant's account holds KES {format_kes(account.balance)}",
        )
    merchant = asked.merchant
    try:
        hold_id = uow.ledger.post(
            reference=new_reference(),
            kind="stellar_order_refund",
            amount=asked.amount,
            fee=0,
            idempotency_key=f"stellar_order_refund:{merchant.id}:{asked.public_id}",
            request_hash=request_hash(kind="stellar_order_refund", refund=asked.public_id),
            legs=[*account.draw(asked.amount), (hold.id, asked.amount)],
            channel="api",
            created_at=now,
            note=f"refund on Stellar (till {merchant.till_number})",
        )
    except Overdraft:  # unreachable under the account's lock; the CHECK is the backstop
        raise NotRefundable(
            "insufficient_merchant_balance", "the merchant's account holds less than this"
        ) from None
    uow.merchant_refunds.add_refunded(asked.payment.transaction_id, asked.amount)
    refund_id = uow.merchant_refunds.insert_pending(
        public_id=asked.public_id,
        merchant_id=merchant.id,
        payment_transaction_id=asked.payment.transaction_id,
        amount=asked.amount,
        reason=asked.reason,
        now=now,
        hold_transaction_id=hold_id,
    )
    uow.incoming.add_merchant_refund(refund_id, to_address, asked.amount * STROOPS_PER_CENT)
    log.info("merchant refund on Stellar held", extra={"merchant_id": merchant.id})
    return refund_id


def sent(uow: UnitOfWork, refund: Pending, on_chain: OnChainRefund, now: datetime) -> None:
    """The refunder's payment applied on-chain (`on_chain` just marked sent, in this
    transaction): the hold to stellar_clearing, settled by that payment; the refund
    succeeded and the order moved (rail_refunds.succeeded)."""
    assert on_chain.tx_hash is not None  # a sent refund was signed
    hold, clearing = _accounts(uow, HOLD, "stellar_clearing")
    tx_id = uow.ledger.post(
        reference=new_reference(),
        kind="stellar_order_refund_sent",
        amount=refund.amount,
        fee=0,
        idempotency_key=f"stellar_order_refund_sent:{refund.id}",
        request_hash=request_hash(kind="stellar_order_refund_sent", refund=refund.id),
        legs=[(hold.id, -refund.amount), (clearing.id, refund.amount)],
        channel="system",
        created_at=now,
        note=f"refund {refund.public_id} sent on Stellar",
        on_chain_hash=on_chain.tx_hash,
    )
    succeeded(uow, refund, tx_id, now)


def refused(uow: UnitOfWork, refund: Pending, reason: str, now: datetime) -> None:
    """The network refused the refunder's payment for good: the hold back to the
    merchant's account, the refund failed (rail_refunds.failed)."""
    merchant = uow.merchants.get(refund.merchant_id)
    assert merchant is not None  # a refund's merchant is never deleted
    locked = uow.ledger.accounts(account_ids=[merchant.account_id], codes=[HOLD])
    account = next(a for a in locked if a.id == merchant.account_id)
    hold = next(a for a in locked if a.code == HOLD)
    uow.ledger.post(
        reference=new_reference(),
        kind="stellar_order_refund_release",
        amount=refund.amount,
        fee=0,
        idempotency_key=f"stellar_order_refund_release:{refund.id}",
        request_hash=request_hash(kind="stellar_order_refund_release", refund=refund.id),
        legs=[(hold.id, -refund.amount), (account.id, refund.amount)],
        channel="system",
        created_at=now,
        note=f"refund {refund.public_id} refused on Stellar",
    )
    failed(uow, refund, f"the Stellar network refused it: {reason}", now)


def _accounts(uow: UnitOfWork, *codes: str) -> list[LockedAccount]:
    by_code = {a.code: a for a in uow.ledger.accounts(codes=list(codes))}
    return [by_code[code] for code in codes]
