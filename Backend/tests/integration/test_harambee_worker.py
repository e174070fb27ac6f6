"""The worker's harambee job on real PostgreSQL: pledge reminders two days before and
on the due date, each once; refunds a cancel left unfinished, each once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.db.unit_of_work import UnitOfWork
from app.services.harambee import campaigns, closing, pledges
from app.services.harambee.contributions import ContributionRequest, contribute
from app.worker import loops as worker_loops
from app.worker.harambee import HarambeeJob
from tests.support.wallets import (
    SHORTCODE,
    fund,
    ledger_snapshot,
    phone_of,
    register,
    registration_secrets,
    wallet_balance,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, noon in Nairobi
TODAY = date(2026, 3, 2)


@pytest.fixture
def people(settings, clean_database):
    box, pin_hash = registration_secrets(settings)
    ids = [
        register(clean_database, box, pin_hash, phone=phone_of(n), name=name)
        for n, name in ((1, "Wanjiru Kamau"), (2, "Otieno Ouma"), (3, "Akinyi Njeri"))
    ]
    for n in (2, 3):
        fund(clean_database, phone_of(n), 10_000_00)
    return ids


def open_campaign(database, organiser: int) -> int:
    return campaigns.start_campaign(
        UnitOfWork(database),
        organiser_user_id=organiser,
        title="Roof for St Mark",
        target_amount=50_000_00,
        key="roof",
        shortcode=SHORTCODE,
        now=START,
    ).campaign.id


def pledge(database, user: int, campaign_id: int, amount: int, due: date, key: str) -> int:
    return pledges.make_pledge(
        UnitOfWork(database),
        user_id=user,
        campaign_id=campaign_id,
        amount=amount,
        due_date=due,
        key=key,
        shortcode=SHORTCODE,
        now=START,
    ).pledge.id


def job_at(database, moment: datetime) -> HarambeeJob:
    return HarambeeJob(database, shortcode=SHORTCODE, clock=lambda: moment)


def reminders(database) -> list[tuple[str, str]]:
    return [(to, t) for _, to, t in ledger_snapshot(database).sms if "reminder" in t]


def test_a_pledge_is_reminded_two_days_before_and_on_the_day_once_each(clean_database, people):
    organiser, otieno, akinyi = people
    campaign_id = open_campaign(clean_database, organiser)
    due = TODAY + timedelta(days=7)
    reminded = pledge(clean_database, otieno, campaign_id, 1_000_00, due, "p1")
    paid = pledge(clean_database, akinyi, campaign_id, 500_00, due, "p2")
    pledges.pay_pledge(
        UnitOfWork(clean_database), pledge_id=paid, user_id=akinyi, amount=None, key="pay",
        now=START,
    )  # fmt: skip
    cancelled = pledge(clean_database, akinyi, campaign_id, 300_00, due, "p3")
    pledges.cancel_pledge(UnitOfWork(clean_database), pledge_id=cancelled, user_id=akinyi)

    three_days_before = START + timedelta(days=4)
    assert job_at(clean_database, three_days_before).run_once() == (0, 0, 0)
    two_days_before = START + timedelta(days=5)
    assert job_at(clean_database, two_days_before).run_once() == (1, 0, 0)
    assert job_at(clean_database, two_days_before).run_once() == (0, 0, 0)  # queued once
    assert reminders(clean_database) == [(phone_of(2), "harambee_reminder_soon")]

    on_the_day = START + timedelta(days=7)
    assert job_at(clean_database, on_the_day).run_once() == (1, 0, 0)
    job_at(clean_database, on_the_day).run_once()
    assert reminders(clean_database) == [
        (phone_of(2), "harambee_reminder_soon"),
        (phone_of(2), "harambee_reminder_today"),
    ]
    keys = [
        key for key, _, template in ledger_snapshot(clean_database).sms if "reminder" in template
    ]
    assert keys == [
        f"pledge:{reminded}:reminder:{due.isoformat()}:soon",
        f"pledge:{reminded}:reminder:{due.isoformat()}:today",
    ]


def test_a_cancel_left_unfinished_is_refunded_by_the_job_once(clean_database, people):
    organiser, otieno, akinyi = people
    campaign_id = open_campaign(clean_database, organiser)
    for user, amount in ((otieno, 700_00), (akinyi, 300_00), (otieno, 50_00)):
        contribute(
            UnitOfWork(clean_database),
            ContributionRequest(user, campaign_id, amount, f"c-{user}-{amount}"),
        )
    # What a crash right after cancelling's first step leaves: cancelled, nobody refunded.
    with UnitOfWork(clean_database) as uow:
        row = uow.campaigns.get(campaign_id)
        uow.ledger.accounts(account_ids=[row.account_id])
        uow.campaigns.end(campaign_id, status="cancelled", payout_id=None, now=START)
        uow.commit()

    assert job_at(clean_database, START).run_once() == (0, 2, 0)
    assert job_at(clean_database, START).run_once() == (0, 0, 0)
    assert wallet_balance(clean_database, otieno) == 10_000_00
    assert wallet_balance(clean_database, akinyi) == 10_000_00
    again = closing.cancel_campaign(
        UnitOfWork(clean_database), campaign_id=campaign_id, user_id=organiser
    )
    assert again.refunds == []


def test_every_worker_runs_the_harambee_job(settings, clean_database):
    names = [loop.name for loop in worker_loops.build_loops(settings, clean_database)]
    assert "harambee" in names
