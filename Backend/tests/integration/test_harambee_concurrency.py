"""A campaign's escrow is a hot account: everyone pays into it at once. Many threads
on real PostgreSQL, released together: every contribution lands once, the escrow
holds exactly their sum, nothing slips in after a close or a cancel, every
contributor is refunded once, and nothing deadlocks."""

from __future__ import annotations

from collections import Counter

import pytest

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.services import lock_order
from app.services.harambee import campaigns, closing, milestones
from app.services.harambee.common import CampaignEnded, CampaignNotOpen
from app.services.harambee.contributions import Contribution, ContributionRequest, contribute
from app.services.lock_order import Owner
from tests.integration.test_ledger_concurrency import errors_of, run_together
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

USERS = 16
OPENING = 1_000_000


@pytest.fixture
def users(clean_database, settings) -> list[int]:
    """USERS registered users (phone_of(1..)), each funded with KES 10,000."""
    box, pin_hash = registration_secrets(settings)
    ids = []
    for n in range(1, USERS + 1):
        ids.append(register(clean_database, box, pin_hash, phone=phone_of(n)))
        fund(clean_database, phone_of(n), OPENING)
    return ids


def open_campaign(database: Database, organiser: int, target: int) -> int:
    return campaigns.start_campaign(
        UnitOfWork(database),
        organiser_user_id=organiser,
        title="Hospital bill for Mama Njeri",
        target_amount=target,
        key="hot",
        shortcode=SHORTCODE,
    ).campaign.id


def escrow_paid_by(database: Database, campaign_id: int, user_id: int) -> int:
    """The escrow account a user's contributions to the campaign go to: its shard for
    the user's wallet (migration 0059)."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT e.account_id FROM campaign_escrows e JOIN ledger_accounts w"
            " ON w.user_id = %(user)s AND e.shard = w.id %% 8 WHERE e.campaign_id = %(c)s",
            {"user": user_id, "c": campaign_id},
        )
        [account] = cur.fetchone()
        conn.rollback()
    return account


def give(database: Database, user: int, campaign_id: int, amount: int, key: str):
    request = ContributionRequest(user, campaign_id, amount, key)
    return lambda: contribute(UnitOfWork(database), request)


def escrow(database: Database, campaign_id: int) -> int:
    return campaigns.get_campaign(UnitOfWork(database), campaign_id).balance


def templates(database: Database) -> Counter:
    return Counter(template for _, _, template in ledger_snapshot(database).sms)


def test_64_contributions_at_once_to_one_campaign_all_land_exactly(clean_database, crowd, users):
    campaign_id = open_campaign(clean_database, users[0], target=64 * 1_000)
    calls = [give(crowd, users[i % USERS], campaign_id, 1_000 + i, f"hot-{i}") for i in range(64)]

    outcomes = run_together(calls)

    assert errors_of(outcomes) == []
    assert escrow(clean_database, campaign_id) == sum(1_000 + i for i in range(64))
    for n, user in enumerate(users):
        paid = sum(1_000 + i for i in range(64) if i % USERS == n)
        assert wallet_balance(clean_database, user) == OPENING - paid
    # Every receipt shows the escrow as it saw it: its own money and what had
    # committed on the other shards (one committing at the same moment may be missing).
    landed = [o for o in outcomes if isinstance(o, Contribution)]
    assert all(o.amount <= o.raised <= escrow(clean_database, campaign_id) for o in landed)
    # The milestones: each told once, by a contribution or, for one two of them
    # reached together without either counting the other, by the harambee job.
    milestones.tell_untold_milestones(UnitOfWork(clean_database))
    sms = templates(clean_database)
    assert sms["harambee_contributed"] == 64
    assert sms["harambee_milestone"] == 2  # 50 % and 100 %
    assert check_ledger(clean_database).sound


def test_one_key_sent_by_32_threads_at_once_contributes_once(clean_database, crowd, users):
    campaign_id = open_campaign(clean_database, users[0], target=1_000_000)
    outcomes = run_together([give(crowd, users[1], campaign_id, 5_000, "same") for _ in range(32)])

    assert errors_of(outcomes) == []
    assert len({o.reference for o in outcomes}) == 1
    assert sum(not o.replayed for o in outcomes) == 1
    assert escrow(clean_database, campaign_id) == 5_000
    assert wallet_balance(clean_database, users[1]) == OPENING - 5_000
    assert templates(clean_database)["harambee_contributed"] == 1


# Marked locked last (migration 0058), every wallet sorts after the escrow (in id order
# it comes after them all): contributions, refunds and the close must agree on the order.
MARKS = pytest.mark.parametrize("marked", [False, True], ids=["id order", "wallets last"])


def mark_wallets(database: Database) -> None:
    for n in range(1, USERS + 1):
        lock_order.mark_locked_last(UnitOfWork(database), Owner(phone_of(n)), True)


@MARKS
def test_contributions_racing_a_cancel_are_refunded_or_refused_never_lost(
    clean_database, crowd, users, marked
):
    organiser = users[0]
    campaign_id = open_campaign(clean_database, organiser, target=10_000_000)
    if marked:
        mark_wallets(clean_database)
    calls = [give(crowd, users[i % USERS], campaign_id, 2_000, f"race-{i}") for i in range(48)]
    calls.insert(
        24,
        lambda: closing.cancel_campaign(
            UnitOfWork(crowd), campaign_id=campaign_id, user_id=organiser
        ),
    )
    calls.insert(
        40,
        lambda: closing.cancel_campaign(
            UnitOfWork(crowd), campaign_id=campaign_id, user_id=organiser
        ),
    )

    outcomes = run_together(calls)

    landed = [o for o in outcomes if isinstance(o, Contribution)]
    refused = [o for o in outcomes if isinstance(o, CampaignNotOpen)]
    assert len(landed) + len(refused) == 48, errors_of(outcomes)
    assert sum(isinstance(o, closing.Cancelled) for o in outcomes) == 2, errors_of(outcomes)
    # Whatever the interleaving, the refunds finish (a cancel, or the worker's sweep).
    closing.finish_refunds(UnitOfWork(clean_database))
    assert escrow(clean_database, campaign_id) == 0
    for user in users:
        assert wallet_balance(clean_database, user) == OPENING
    contributors = {o.user_id for o in landed}
    assert templates(clean_database)["harambee_refund"] == len(contributors)
    assert check_ledger(clean_database).sound


@MARKS
def test_contributions_racing_a_close_are_paid_out_or_refused(clean_database, crowd, users, marked):
    organiser = users[0]
    campaign_id = open_campaign(clean_database, organiser, target=10_000_000)
    if marked:
        mark_wallets(clean_database)
    calls = [
        give(crowd, users[1 + i % (USERS - 1)], campaign_id, 3_000, f"close-{i}") for i in range(40)
    ]
    calls.insert(
        20,
        lambda: closing.close_campaign(
            UnitOfWork(crowd), campaign_id=campaign_id, user_id=organiser
        ),
    )
    calls.insert(
        30,
        lambda: closing.cancel_campaign(
            UnitOfWork(crowd), campaign_id=campaign_id, user_id=organiser
        ),
    )

    outcomes = run_together(calls)

    landed = [o for o in outcomes if isinstance(o, Contribution)]
    others = [o for o in outcomes if not isinstance(o, Contribution)]
    assert all(
        isinstance(o, (CampaignNotOpen, CampaignEnded, closing.Closed, closing.Cancelled))
        for o in others
    ), errors_of(outcomes)
    row = campaigns.get_campaign(UnitOfWork(clean_database), campaign_id)
    if row.stored_status == "closed":  # the close came first: it paid out all that landed
        assert row.current_amount == 3_000 * len(landed) and row.balance == 0
        assert wallet_balance(clean_database, organiser) == OPENING + 3_000 * len(landed)
    else:  # the cancel came first: everyone got their money back
        assert row.balance == 0 and wallet_balance(clean_database, organiser) == OPENING
    assert check_ledger(clean_database).sound
