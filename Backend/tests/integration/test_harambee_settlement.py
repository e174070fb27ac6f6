"""Harambee money on PayTrace's local Stellar network: a campaign's escrow lives with
the treasury, so a contribution settles as a payment from the contributor to the
treasury and a payout or a refund as one from the treasury; once the settler is
quiet, every wallet and the treasury hold on-chain exactly what the ledger says."""

from __future__ import annotations

import pytest

from app.db.unit_of_work import UnitOfWork
from app.integrations.stellar import Horizon
from app.services.harambee import campaigns, closing
from app.services.harambee.contributions import ContributionRequest, contribute
from tests.integration.test_stellar_settlement import register_active, settlement_rows
from tests.support.stellar import (
    books,
    custody_settings,
    local_network,
    prepared_system,
    settler,
)
from tests.support.wallets import SHORTCODE, fund, phone_of


@pytest.fixture
def custody(settings, tmp_path):
    with local_network(tmp_path / "net", close_interval_s=0.05) as net:
        custody = custody_settings(settings, net.url, stellar_channels=4)
        yield custody, prepared_system(custody), Horizon(net.url)


def start(database, organiser: int, key: str) -> int:
    return campaigns.start_campaign(
        UnitOfWork(database),
        organiser_user_id=organiser,
        title=f"Harambee {key}",
        target_amount=500_00,
        key=key,
        shortcode=SHORTCODE,
    ).campaign.id


def give(database, user: int, campaign_id: int, amount: int, key: str) -> None:
    contribute(UnitOfWork(database), ContributionRequest(user, campaign_id, amount, key))


def test_contributions_payouts_and_refunds_settle_and_the_books_agree(custody, clean_database):
    settings, system, horizon = custody
    organiser, amani, akinyi = register_active(settings, clean_database, 3)
    for n in (1, 2):
        fund(clean_database, phone_of(n), 1_000_00, reference=f"seed-{n}")
    closed, cancelled, still_open = (start(clean_database, organiser, k) for k in "abc")
    give(clean_database, amani, closed, 300_00, "a1")
    give(clean_database, akinyi, closed, 250_00, "a2")
    give(clean_database, amani, cancelled, 120_00, "b1")
    give(clean_database, akinyi, cancelled, 80_00, "b2")
    give(clean_database, akinyi, still_open, 45_00, "c1")
    closing.close_campaign(UnitOfWork(clean_database), campaign_id=closed, user_id=organiser)
    closing.cancel_campaign(UnitOfWork(clean_database), campaign_id=cancelled, user_id=organiser)

    settler(settings, clean_database, system).settle_all()

    ledger, on_chain = books(clean_database, horizon, system)
    assert on_chain == ledger
    assert ledger[system.treasury.public_key] == 45_00  # what the open campaign holds
    rows = settlement_rows(clean_database)
    assert len(rows) == 2 + 5 + 1 + 2  # cash-ins, contributions, a payout, two refunds
    assert all(status == "settled" for _, status, *_ in rows)
