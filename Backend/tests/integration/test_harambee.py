"""Harambee on real PostgreSQL: campaigns, contributions, pledges, closing and
cancelling, through the services USSD and the REST API both call."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.db.repositories.campaigns import CampaignFilter
from app.db.repositories.pledges import PledgeFilter
from app.db.unit_of_work import UnitOfWork
from app.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    LimitExceeded,
    NotFound,
    ValidationFailed,
)
from app.services import adjustments
from app.services.harambee import campaigns, closing, contributions, pledges, reports
from app.services.harambee.common import (
    MAX_ACTIVE_CAMPAIGNS,
    CampaignEnded,
    CampaignNotOpen,
    NotOrganiser,
    PledgeNotOpen,
)
from app.services.harambee.contributions import ContributionRequest
from tests.support.wallets import (
    SHORTCODE,
    check_ledger,
    fund,
    ledger_snapshot,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)


@pytest.fixture
def people(settings, clean_database):
    """Organiser (1), two contributors (2, 3), each funded with KES 10,000."""
    box, pin_hash = registration_secrets(settings)
    ids = []
    for n, name in ((1, "Wanjiru Kamau"), (2, "Otieno Ouma"), (3, "Akinyi Njeri")):
        ids.append(register(clean_database, box, pin_hash, phone=phone_of(n), name=name))
        fund(clean_database, phone_of(n), 10_000_00)
    return ids


def uow(database) -> UnitOfWork:
    return UnitOfWork(database)


def start(database, organiser: int, target: int = 1_000_00, key: str = "start", **extra):
    return campaigns.start_campaign(
        uow(database),
        organiser_user_id=organiser,
        title=extra.pop("title", "School fees for Amani"),
        target_amount=target,
        key=key,
        shortcode=SHORTCODE,
        now=NOW,
        **extra,
    ).campaign


def give(database, user: int, campaign_id: int, amount: int | None, key: str, **extra):
    return contributions.contribute(
        uow(database),
        ContributionRequest(user, campaign_id, amount, key, **extra),
        now=NOW,
    )


def sms_templates(database) -> list[tuple[str, str]]:
    return [(to, template) for _, to, template in ledger_snapshot(database).sms]


def test_a_campaign_gets_a_keypad_code_an_escrow_and_an_sms(clean_database, people):
    organiser = people[0]
    campaign = start(clean_database, organiser, description="Term 2", end_date=TODAY)
    assert campaign.code.isdigit() and len(campaign.code) == 6 and campaign.code[0] != "0"
    assert campaign.status == "active" and campaign.current_amount == 0
    assert (phone_of(1), "harambee_started") in sms_templates(clean_database)
    again = campaigns.start_campaign(
        uow(clean_database),
        organiser_user_id=organiser,
        title="School fees for Amani",
        target_amount=1_000_00,
        key="start",
        shortcode=SHORTCODE,
        description="Term 2",
        end_date=TODAY,
        now=NOW,
    )
    assert again.replayed and again.campaign.id == campaign.id
    with pytest.raises(IdempotencyConflict):
        start(clean_database, organiser, target=2_000_00)
    found = campaigns.find_by_code(uow(clean_database), campaign.code)
    assert found.id == campaign.id


def test_contributions_raise_the_escrow_and_tell_the_organiser_at_half_and_full(
    clean_database, people
):
    organiser, amani, akinyi = people
    campaign = start(clean_database, organiser, target=1_000_00)
    first = give(clean_database, amani, campaign.id, 400_00, "k1", message="Tuko pamoja")
    assert first.raised == 400_00 and first.balance == 9_600_00 and not first.replayed
    give(clean_database, akinyi, campaign.id, 200_00, "k2", is_anonymous=True)
    third = give(clean_database, amani, campaign.id, 500_00, "k3")
    assert third.raised == 1_100_00

    shown = campaigns.get_campaign(uow(clean_database), campaign.id)
    assert shown.current_amount == 1_100_00 and shown.status == "funded"
    milestones = [t for to, t in sms_templates(clean_database) if t == "harambee_milestone"]
    assert len(milestones) == 2  # 50 % (at 600) and 100 % (at 1,100), once each
    receipts = [to for to, t in sms_templates(clean_database) if t == "harambee_contributed"]
    assert receipts == [phone_of(2), phone_of(3), phone_of(2)]
    assert check_ledger(clean_database).sound


def test_a_repeated_contribution_key_moves_money_once(clean_database, people):
    organiser, amani, _ = people
    campaign = start(clean_database, organiser)
    first = give(clean_database, amani, campaign.id, 300_00, "same")
    again = give(clean_database, amani, campaign.id, 300_00, "same")
    assert again.replayed and again.id == first.id and again.reference == first.reference
    assert again.balance == first.balance and again.raised == first.raised
    with pytest.raises(IdempotencyConflict):
        give(clean_database, amani, campaign.id, 301_00, "same")
    assert wallet_balance(clean_database, amani) == 9_700_00


def test_contributions_obey_balance_and_tier_limits(clean_database, people):
    organiser, amani, _ = people
    campaign = start(clean_database, organiser, target=500_000_00)
    with pytest.raises(InsufficientFunds):
        give(clean_database, amani, campaign.id, 10_000_01, "too-much")
    fund(clean_database, phone_of(2), 100_000_00, reference="more")
    with pytest.raises(LimitExceeded):
        give(clean_database, amani, campaign.id, 70_000_01, "over-tier")
    with pytest.raises(ValidationFailed):
        give(clean_database, amani, campaign.id, 0, "zero")
    with pytest.raises(NotFound):
        give(clean_database, amani, 999, 100, "nowhere")


def test_pledges_are_paid_in_parts_and_then_fulfilled(clean_database, people):
    organiser, amani, _ = people
    campaign = start(clean_database, organiser, target=5_000_00)
    made = pledges.make_pledge(
        uow(clean_database),
        user_id=amani,
        campaign_id=campaign.id,
        amount=1_000_00,
        due_date=TODAY + timedelta(days=7),
        key="p1",
        shortcode=SHORTCODE,
        now=NOW,
    )
    pledge = made.pledge
    assert pledge.status == "pledged" and pledge.paid_amount == 0
    pay = pledges.pay_pledge
    pay(uow(clean_database), pledge_id=pledge.id, user_id=amani, amount=400_00, key="pp1", now=NOW)
    mid = pledges.get_pledge(uow(clean_database), pledge_id=pledge.id, user_id=amani, now=NOW)
    assert mid.status == "partially_paid" and mid.paid_amount == 400_00
    assert type(mid.paid_amount) is int  # cents, never a Decimal (sum() of BIGINT is numeric)
    with pytest.raises(ValidationFailed) as refused:
        pay(uow(clean_database), pledge_id=pledge.id, user_id=amani, amount=600_01, key="pp2")
    assert refused.value.code == "exceeds_pledge"
    rest = pay(uow(clean_database), pledge_id=pledge.id, user_id=amani, amount=None, key="pp3")
    assert rest.amount == 600_00 and rest.pledge_id == pledge.id
    done = pledges.get_pledge(uow(clean_database), pledge_id=pledge.id, user_id=amani, now=NOW)
    assert done.status == "fulfilled" and done.paid_amount == 1_000_00
    with pytest.raises(PledgeNotOpen):
        pay(uow(clean_database), pledge_id=pledge.id, user_id=amani, amount=1, key="pp4")
    later = NOW + timedelta(days=30)
    mine, more = pledges.list_pledges(
        uow(clean_database), where=PledgeFilter(user_id=amani), limit=10, now=later
    )
    assert [p.status for p in mine] == ["fulfilled"] and not more


def test_an_unpaid_pledge_past_its_due_date_is_overdue_and_can_be_cancelled(clean_database, people):
    organiser, amani, akinyi = people
    campaign = start(clean_database, organiser)
    pledge = pledges.make_pledge(
        uow(clean_database),
        user_id=amani,
        campaign_id=campaign.id,
        amount=500_00,
        due_date=TODAY + timedelta(days=7),
        key="p",
        shortcode=SHORTCODE,
        now=NOW,
    ).pledge
    later = NOW + timedelta(days=8)
    seen = pledges.get_pledge(uow(clean_database), pledge_id=pledge.id, user_id=amani, now=later)
    assert seen.status == "overdue"
    with pytest.raises(NotFound):
        pledges.cancel_pledge(uow(clean_database), pledge_id=pledge.id, user_id=akinyi)
    cancelled = pledges.cancel_pledge(uow(clean_database), pledge_id=pledge.id, user_id=amani)
    assert cancelled.status == "cancelled"
    with pytest.raises(PledgeNotOpen):
        pledges.pay_pledge(
            uow(clean_database), pledge_id=pledge.id, user_id=amani, amount=None, key="x"
        )


def test_closing_pays_the_escrow_to_the_organiser_once(clean_database, people):
    organiser, amani, akinyi = people
    campaign = start(clean_database, organiser)
    give(clean_database, amani, campaign.id, 700_00, "a")
    give(clean_database, akinyi, campaign.id, 500_00, "b")
    with pytest.raises(NotOrganiser):
        closing.close_campaign(uow(clean_database), campaign_id=campaign.id, user_id=amani)
    closed = closing.close_campaign(uow(clean_database), campaign_id=campaign.id, user_id=organiser)
    assert closed.payout is not None and closed.payout.amount == 1_200_00
    assert closed.campaign.status == "closed" and closed.campaign.current_amount == 1_200_00
    assert wallet_balance(clean_database, organiser) == 11_200_00
    again = closing.close_campaign(uow(clean_database), campaign_id=campaign.id, user_id=organiser)
    assert again.payout is not None and again.payout.replayed
    assert again.payout.reference == closed.payout.reference
    assert wallet_balance(clean_database, organiser) == 11_200_00
    with pytest.raises(CampaignNotOpen):
        give(clean_database, amani, campaign.id, 100, "late")
    with pytest.raises(CampaignEnded):
        closing.cancel_campaign(uow(clean_database), campaign_id=campaign.id, user_id=organiser)
    assert (phone_of(1), "harambee_payout") in sms_templates(clean_database)
    assert check_ledger(clean_database).sound


def test_cancelling_refunds_every_contributor_what_they_paid_once(clean_database, people):
    organiser, amani, akinyi = people
    campaign = start(clean_database, organiser)
    give(clean_database, amani, campaign.id, 300_00, "a1")
    give(clean_database, amani, campaign.id, 200_00, "a2")
    give(clean_database, akinyi, campaign.id, 150_00, "b1")
    cancelled = closing.cancel_campaign(
        uow(clean_database), campaign_id=campaign.id, user_id=organiser
    )
    assert sorted(r.amount for r in cancelled.refunds) == [150_00, 500_00]
    assert cancelled.campaign.status == "cancelled" and cancelled.campaign.current_amount == 0
    assert wallet_balance(clean_database, amani) == 10_000_00
    assert wallet_balance(clean_database, akinyi) == 10_000_00
    again = closing.cancel_campaign(uow(clean_database), campaign_id=campaign.id, user_id=organiser)
    assert again.refunds == []
    refunds = [to for to, t in sms_templates(clean_database) if t == "harambee_refund"]
    assert sorted(refunds) == [phone_of(2), phone_of(3)]
    with pytest.raises(CampaignNotOpen):
        give(clean_database, amani, campaign.id, 100, "late")
    assert check_ledger(clean_database).sound


def test_only_the_organiser_updates_and_only_while_active(clean_database, people):
    organiser, amani, _ = people
    campaign = start(clean_database, organiser)
    with pytest.raises(NotOrganiser):
        campaigns.update_campaign(
            uow(clean_database), campaign_id=campaign.id, user_id=amani, changes={"title": "Mine"}
        )
    updated = campaigns.update_campaign(
        uow(clean_database),
        campaign_id=campaign.id,
        user_id=organiser,
        changes={"title": "  Fees   for Amani ", "target_amount": 2_000_00, "end_date": None},
        now=NOW,
    )
    assert updated.title == "Fees for Amani" and updated.target_amount == 2_000_00
    closing.cancel_campaign(uow(clean_database), campaign_id=campaign.id, user_id=organiser)
    with pytest.raises(CampaignEnded):
        campaigns.update_campaign(
            uow(clean_database),
            campaign_id=campaign.id,
            user_id=organiser,
            changes={"title": "Again"},
        )


def test_an_organiser_runs_a_limited_number_of_campaigns_at_once(clean_database, people):
    organiser = people[0]
    for n in range(MAX_ACTIVE_CAMPAIGNS):
        start(clean_database, organiser, key=f"c{n}")
    with pytest.raises(ValidationFailed) as refused:
        start(clean_database, organiser, key="one-more")
    assert refused.value.code == "too_many_campaigns"
    page, more = campaigns.list_campaigns(
        uow(clean_database), where=CampaignFilter(organiser_id=organiser), limit=4
    )
    assert len(page) == 4 and more
    rest, _ = campaigns.list_campaigns(
        uow(clean_database),
        where=CampaignFilter(organiser_id=organiser, before_id=page[-1].id),
        limit=100,
    )
    assert len(page) + len(rest) == MAX_ACTIVE_CAMPAIGNS


def test_stats_count_contributors_days_and_pledges(clean_database, people):
    organiser, amani, akinyi = people
    campaign = start(clean_database, organiser, target=10_000_00)
    give(clean_database, amani, campaign.id, 100_00, "a")
    give(clean_database, amani, campaign.id, 200_00, "b")
    give(clean_database, akinyi, campaign.id, 301_00, "c")
    pledges.make_pledge(
        uow(clean_database),
        user_id=akinyi,
        campaign_id=campaign.id,
        amount=1_000_00,
        due_date=TODAY + timedelta(days=14),
        key="p",
        shortcode=SHORTCODE,
        now=NOW,
    )
    stats = reports.campaign_stats(uow(clean_database), campaign.id, now=NOW)
    assert stats.totals.amount == 601_00 and stats.totals.contributors == 2
    assert stats.totals.contributions == 3 and stats.average == 200_33
    assert len(stats.daily) == 30 and stats.daily[-1].day == TODAY
    assert stats.daily[-1].amount == 601_00 and stats.daily[-1].contributions == 3
    assert stats.pledges == {"pledged": (1, 1_000_00, 0)}


def test_harambee_money_is_returned_by_cancelling_never_by_a_reversal(clean_database, people):
    organiser, amani, _ = people
    campaign = start(clean_database, organiser)
    paid = give(clean_database, amani, campaign.id, 300_00, "a")
    with pytest.raises(adjustments.NotReversible):
        adjustments.reverse(uow(clean_database), transaction_id=paid.transaction_id)
    closed = closing.close_campaign(uow(clean_database), campaign_id=campaign.id, user_id=organiser)
    assert closed.payout is not None
    with pytest.raises(adjustments.NotReversible):
        adjustments.reverse(uow(clean_database), transaction_id=closed.payout.transaction_id)
