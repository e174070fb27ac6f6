"""A payment at a merchant's till posted the way PayTrace posted it before
ledger_merchant_pay (migration 0061): statement by statement in one transaction (read
the merchant at the till, lock the payer's wallet, the merchant's account and a fees
shard in the lock order, read the key and the outflows, check in Python,
`LedgerRepository.post`, record the payment), then COMMIT. A pay order's payment still
goes this way (`payments.pay_by_statements`, after the order's row).

Tests hold the one-statement path to it: the same requests must leave the same journal,
legs, settlements, outflows, payments and SMS, and meet the same refusals.
"""

from __future__ import annotations

from datetime import UTC, datetime

from app.db.unit_of_work import UnitOfWork
from app.errors import MerchantNotFound
from app.services.ledger import run_idempotent
from app.services.merchant_payments.payments import (
    MerchantPayment,
    MerchantPaymentRequest,
    _checked,
    _replayed,
    pay_by_statements,
)
from app.services.merchant_payments.tills import by_till


def pay_by_statements_at_till(
    uow: UnitOfWork, request: MerchantPaymentRequest, *, now: datetime | None = None
) -> MerchantPayment:
    """What services.merchant_payments.payments.pay did at a till before migration 0061."""
    key, fingerprint = _checked(request)
    assert request.till is not None and request.amount is not None

    def once():
        with uow:
            merchant = by_till(uow, request.till or "")
            if merchant is None:
                raise MerchantNotFound("no merchant has this till number")
            moment = now or datetime.now(UTC)
            return pay_by_statements(
                uow, request, key, fingerprint, moment, merchant, request.amount or 0, None
            )

    done = run_idempotent(uow, key, fingerprint, once)
    return done if isinstance(done, MerchantPayment) else _replayed(uow, request, done)
