"""Merchant payments on PayTrace's local Stellar network: a merchant's money lives with
the treasury (as a campaign's escrow does), so a payment settles as one KES payment from
the payer to the treasury, its fee moving between two treasury accounts is no payment,
and a reversal pays back; once the settler is quiet every wallet and the treasury hold
on-chain exactly what the ledger says."""

from __future__ import annotations

import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain.merchants import FeeRule
from app.integrations.stellar import Horizon
from app.services import adjustments, merchants
from app.services.merchant_payments import payments as merchant_payments
from app.services.merchant_payments.payments import MerchantPaymentRequest
from tests.integration.test_stellar_settlement import register_active, settlement_rows
from tests.support.merchants import application
from tests.support.stellar import (
    books,
    custody_settings,
    local_network,
    prepared_system,
    settler,
)
from tests.support.wallets import check_ledger, fund, phone_of


@pytest.fixture
def custody(settings, tmp_path):
    with local_network(tmp_path / "net", close_interval_s=0.05) as net:
        custody = custody_settings(settings, net.url, stellar_channels=4)
        yield custody, prepared_system(custody), Horizon(net.url)


def test_payments_to_a_till_and_a_reversal_settle_and_the_books_agree(custody, clean_database):
    settings, system, horizon = custody
    amani, akinyi = register_active(settings, clean_database, 2)
    for n in (0, 1):
        fund(clean_database, phone_of(n), 1_000_00, reference=f"seed-{n}")
    shop = merchants.onboard(
        UnitOfWork(clean_database), application("512345", fee=FeeRule(50, 100, 20_000))
    ).merchant

    def pay(payer: int, amount: int, key: str):
        request = MerchantPaymentRequest(payer, "512345", amount, key)
        return merchant_payments.pay(UnitOfWork(clean_database), request)

    pay(amani, 250_00, "a")
    pay(akinyi, 40_00, "b")
    third = pay(amani, 120_00, "c")
    adjustments.reverse(UnitOfWork(clean_database), transaction_id=third.transaction_id)

    settler(settings, clean_database, system).settle_all()

    ledger, on_chain = books(clean_database, horizon, system)
    assert on_chain == ledger
    # The treasury holds the merchant's takings and PayTrace's fees: the payments.
    assert ledger[system.treasury.public_key] == 250_00 + 40_00
    assert merchants.get(UnitOfWork(clean_database), shop.id).balance == 250_00 + 40_00 - 125 - 100
    rows = settlement_rows(clean_database)
    assert len(rows) == 2 + 3 + 1  # cash-ins, payments, a reversal
    assert all(status == "settled" for _, status, *_ in rows)
    assert check_ledger(clean_database).sound
