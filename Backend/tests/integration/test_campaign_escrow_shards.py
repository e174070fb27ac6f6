"""A harambee's escrow in shards (migration 0059): eight escrow accounts, each
contributor always paying the one its wallet's id picks, so that contributions do not
queue on one row. What a campaign raised is their sum everywhere it is read; closing
pays every shard out at once, a refund draws from where the contributor's money went,
and a campaign opened before the shards keeps paying into its one account. Observed
from PostgreSQL: a contribution into one shard does not wait for another shard's lock.
"""

from __future__ import annotations

import pytest

from app.db.unit_of_work import UnitOfWork
from app.services.harambee import campaigns, closing, milestones
from tests.integration import test_harambee_concurrency as harambee
from tests.integration.test_console_tables import query
from tests.integration.test_credited_account_locked_last import held, in_thread
from tests.integration.test_harambee_concurrency import (
    OPENING,
    USERS,
    escrow_paid_by,
    give,
    open_campaign,
)
from tests.support.wallets import (
    SHORTCODE,
    check_ledger,
    ledger_snapshot,
    phone_of,
    wallet_balance,
)

KES = 100

# The harambee tests' funded users, used here under their own name.
users = harambee.users


def escrows(database, campaign_id: int) -> dict[int, tuple[int, int]]:
    """shard -> (account id, balance)."""
    rows = query(
        database,
        "SELECT e.shard, a.id, a.balance FROM campaign_escrows e"
        " JOIN ledger_accounts a ON a.id = e.account_id WHERE e.campaign_id = %(c)s",
        {"c": campaign_id},
    )
    return {shard: (account, balance) for shard, account, balance in rows}


def wallet_account(database, user_id: int) -> int:
    return query(database, f"SELECT id FROM ledger_accounts WHERE user_id = {user_id}")[0][0]


def test_contributions_land_in_their_wallets_shards_and_the_campaign_raised_their_sum(
    clean_database, users
):
    campaign_id = open_campaign(clean_database, users[0], target=1_000_000 * KES)
    shards = escrows(clean_database, campaign_id)
    assert sorted(shards) == list(range(8)) and all(b == 0 for _, b in shards.values())
    head = campaigns.get_campaign(UnitOfWork(clean_database), campaign_id)
    assert shards[0][0] == head.account_id

    raised = []
    for n, user in enumerate(users[1:], start=1):
        raised.append(give(clean_database, user, campaign_id, n * KES, f"k{n}")().raised)

    paid = {n: 0 for n in range(8)}
    for n, user in enumerate(users[1:], start=1):
        paid[wallet_account(clean_database, user) % 8] += n * KES
    assert {s: b for s, (_, b) in escrows(clean_database, campaign_id).items()} == paid
    assert len([s for s in paid if paid[s]]) == 8  # 15 wallets: every shard took some
    total = sum(n * KES for n in range(1, USERS))
    assert raised[-1] == total  # each receipt's "raised": every shard, serially exact
    assert raised == [sum(n * KES for n in range(1, k + 1)) for k in range(1, USERS)]
    seen = campaigns.get_campaign(UnitOfWork(clean_database), campaign_id)
    assert (seen.balance, seen.current_amount) == (total, total)
    assert check_ledger(clean_database).sound


def test_closing_pays_every_shard_out_to_the_organiser_in_one_movement(clean_database, users):
    organiser = users[0]
    campaign_id = open_campaign(clean_database, organiser, target=1_000 * KES)
    for n, user in enumerate(users[1:9], start=1):
        give(clean_database, user, campaign_id, 100 * KES, f"c{n}")()

    closed = closing.close_campaign(
        UnitOfWork(clean_database), campaign_id=campaign_id, user_id=organiser
    )

    assert closed.payout is not None and closed.payout.amount == 800 * KES
    assert wallet_balance(clean_database, organiser) == OPENING + 800 * KES
    assert all(b == 0 for _, b in escrows(clean_database, campaign_id).values())
    legs = query(
        clean_database,
        "SELECT count(*) FILTER (WHERE amount < 0), count(*) FROM journal_legs"
        " WHERE transaction_id = %(t)s",
        {"t": closed.payout.transaction_id},
    )
    drawn = len({wallet_account(clean_database, u) % 8 for u in users[1:9]})
    assert legs == [(drawn, drawn + 1)]  # one leg from each shard that held money
    row = campaigns.get_campaign(UnitOfWork(clean_database), campaign_id)
    assert (row.balance, row.current_amount) == (0, 800 * KES)
    assert check_ledger(clean_database).sound


def test_a_cancel_refunds_each_contributor_from_the_shard_their_money_went_to(
    clean_database, users
):
    organiser = users[0]
    campaign_id = open_campaign(clean_database, organiser, target=1_000 * KES)
    before = ledger_snapshot(clean_database)
    for n, user in enumerate(users[1:], start=1):
        give(clean_database, user, campaign_id, n * KES, f"r{n}")()
        give(clean_database, user, campaign_id, KES, f"r{n}b")()

    cancelled = closing.cancel_campaign(
        UnitOfWork(clean_database), campaign_id=campaign_id, user_id=organiser
    )

    assert len(cancelled.refunds) == USERS - 1
    for user in users[1:]:
        assert wallet_balance(clean_database, user) == OPENING
    refunds = query(
        clean_database,
        "SELECT l.account_id, -l.amount, w.user_id FROM journal_legs l"
        " JOIN journal_transactions t ON t.id = l.transaction_id AND t.kind = 'campaign_refund'"
        " JOIN journal_legs wl ON wl.transaction_id = t.id AND wl.amount > 0"
        " JOIN ledger_accounts w ON w.id = wl.account_id WHERE l.amount < 0",
    )
    for account, amount, user in refunds:
        n = users.index(user)
        assert (account, amount) == (
            escrow_paid_by(clean_database, campaign_id, user),
            n * KES + KES,
        )
    assert ledger_snapshot(clean_database).balances == before.balances
    assert check_ledger(clean_database).sound


def test_a_campaign_opened_before_the_shards_keeps_paying_into_its_one_escrow(
    clean_database, users
):
    organiser = users[0]
    campaign_id = open_campaign(clean_database, organiser, target=1_000 * KES)
    # As migration 0059 left a campaign it found: its shard 0 alone.
    query(clean_database, "SELECT 1")  # (a read; the change below commits on its own)
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "DELETE FROM campaign_escrows WHERE campaign_id = %(c)s AND shard > 0",
            {"c": campaign_id},
        )
        conn.commit()
    for n, user in enumerate(users[1:6], start=1):
        assert give(clean_database, user, campaign_id, 100 * KES, f"o{n}")().raised == n * 100 * KES
    head = campaigns.get_campaign(UnitOfWork(clean_database), campaign_id)
    assert list(escrows(clean_database, campaign_id).items()) == [(0, (head.account_id, 500 * KES))]

    closing.cancel_campaign(UnitOfWork(clean_database), campaign_id=campaign_id, user_id=organiser)
    assert all(wallet_balance(clean_database, u) == OPENING for u in users[1:6])
    assert check_ledger(clean_database).sound


def test_a_contribution_into_one_shard_does_not_wait_for_another(clean_database, users):
    campaign_id = open_campaign(clean_database, users[0], target=1_000 * KES)
    by_shard = {}
    for user in users[1:]:
        by_shard.setdefault(escrow_paid_by(clean_database, campaign_id, user), user)
    (held_escrow, _), (_, other_user) = list(by_shard.items())[:2]

    with held(clean_database, held_escrow):  # another contribution mid-way on one shard
        thread, result = in_thread(give(clean_database, other_user, campaign_id, KES, "free"))
        thread.join(timeout=10)
        assert not thread.is_alive(), "a contribution into another shard waited"
    assert result and result[0].amount == KES, result


@pytest.mark.parametrize("step", [100, 250])
def test_each_milestone_is_told_once(clean_database, users, step):
    campaign_id = open_campaign(clean_database, users[0], target=1_000 * KES)
    for n, user in enumerate(users[1 : 1 + 1_000 // step], start=1):
        give(clean_database, user, campaign_id, step * KES, f"m{n}")()
    keys = [
        k
        for (k,) in query(
            clean_database,
            "SELECT dedupe_key FROM outbox WHERE dedupe_key LIKE %(p)s ORDER BY id",
            {"p": f"harambee:{campaign_id}:milestone:%"},
        )
    ]
    assert [k.split(":")[3] for k in keys] == ["50", "100"]  # each once, in order


def test_a_milestone_no_contribution_told_is_told_by_the_job_once(clean_database, users):
    """As if the two contributions that reached 50 % and 100 % each missed the other:
    their milestone SMS are not there. The job tells the highest reached, once; a
    campaign told already, or cancelled, is left alone."""
    told = open_campaign(clean_database, users[0], target=1_000 * KES)
    untold = campaigns.start_campaign(
        UnitOfWork(clean_database),
        organiser_user_id=users[1],
        title="Church roof",
        target_amount=1_000 * KES,
        key="roof",
        shortcode=SHORTCODE,
    ).campaign.id
    for n, user in enumerate(users[2:6], start=2):
        give(clean_database, user, told, 300 * KES, f"t{n}")()  # 50 %, then 100 %
        give(clean_database, user, untold, 300 * KES, f"u{n}")()
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "DELETE FROM outbox WHERE dedupe_key LIKE %(k)s",
            {"k": f"harambee:{untold}:milestone:%"},
        )
        conn.commit()

    assert milestones.tell_untold_milestones(UnitOfWork(clean_database)) == 1
    assert milestones.tell_untold_milestones(UnitOfWork(clean_database)) == 0
    rows = query(
        clean_database,
        "SELECT dedupe_key, payload->>'to' FROM outbox WHERE dedupe_key LIKE %(k)s",
        {"k": f"harambee:{untold}:milestone:%"},
    )
    assert rows == [(f"harambee:{untold}:milestone:100:{1_000 * KES}", phone_of(2))]


def test_the_job_leaves_a_campaign_under_its_first_milestone_or_ended_alone(clean_database, users):
    low = open_campaign(clean_database, users[0], target=1_000 * KES)
    give(clean_database, users[1], low, 400 * KES, "low")()  # 40 %: nothing reached
    ended = campaigns.start_campaign(
        UnitOfWork(clean_database),
        organiser_user_id=users[2],
        title="Harambee ended",
        target_amount=1_000 * KES,
        key="ended",
        shortcode=SHORTCODE,
    ).campaign.id
    give(clean_database, users[3], ended, 600 * KES, "e")()
    with clean_database.connection() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM outbox WHERE dedupe_key LIKE 'harambee:%%:milestone:%%'")
        cur.execute(
            "UPDATE campaigns SET status = 'cancelled', ended_at = now() WHERE id = %(c)s",
            {"c": ended},
        )
        conn.commit()

    assert milestones.tell_untold_milestones(UnitOfWork(clean_database)) == 0
