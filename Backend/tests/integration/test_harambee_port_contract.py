"""The Harambee port's contract: the fake (tests/unit/harambee_fakes.py) and the real
adapter (app/ussd/harambee/adapter.py) answer alike."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.support.port_contract import (
    AMINA,
    BARAKA,
    BASIC,
    PIN,
    Side,
    make_sides,
    observe,
    outcome,
)


@pytest.fixture
def sides(request):
    return make_sides(request)


def test_a_campaign_found_by_code_takes_contributions_and_pledges(sides):
    due = (date.today() + timedelta(days=20)).isoformat()

    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        baraka = side.add_user(BARAKA, "Baraka Mwangi")
        side.fund(BARAKA, 1_000_000)
        port = side.port
        started = await port.start_campaign(
            user_id=amina, title="Hospital bill", target=5_000_000, end_date=None, pin=PIN, key="s"
        )
        found = await port.campaign_by_code(code=started.code)
        unknown = "100000" if started.code != "100000" else "100001"
        missing = (
            await outcome(port.campaign_by_code(code=unknown)),
            await outcome(port.campaign_by_code(code="000000")),  # no code starts with 0
        )
        paid = await port.contribute(
            user_id=baraka, campaign_id=found.id, amount=200_000, anonymous=False, pin=PIN, key="c"
        )
        again = await port.contribute(
            user_id=baraka, campaign_id=found.id, amount=200_000, anonymous=False, pin=PIN, key="c"
        )
        too_much = await outcome(port.contribute(
            user_id=baraka, campaign_id=found.id, amount=BASIC.per_transaction + 1,
            anonymous=False, pin=PIN, key="c2",
        ))  # fmt: skip
        pledged = await port.pledge(
            user_id=baraka, campaign_id=found.id, amount=300_000, due_date=due,
            anonymous=True, pin=PIN, key="p",
        )  # fmt: skip
        pledges = await port.open_pledges(user_id=baraka, after_id=None, limit=5)
        after = await port.campaign_by_code(code=started.code)
        return (
            (found.id == started.id, found.title, found.target, found.raised, found.takes_money),
            (missing[0][0], missing[1]),
            (paid.amount, paid.balance, paid.raised, paid.target, paid.pledge_left, paid.replayed),
            (again.reference == paid.reference, again.replayed),
            too_much,
            (
                pledged.campaign_title,
                pledged.amount,
                pledged.paid,
                pledged.due_date,
                pledged.status,
            ),
            [(p.amount, p.paid) for p in pledges.items],
            after.raised,
        )

    found, missing, paid, again, too_much, pledged, pledges, raised = observe(sides, scenario)
    assert found == (True, "Hospital bill", 5_000_000, 0, True)
    assert missing == ("NotFound", ("ValidationFailed", {"code": "invalid_code"}))
    assert paid == (200_000, 800_000, 200_000, 5_000_000, None, False) and again == (True, True)
    assert too_much[0] == "LimitExceeded"
    assert pledged == ("Hospital bill", 300_000, 0, due, "pledged")
    assert pledges == [(300_000, 0)] and raised == 200_000


def test_a_contribution_refused_and_a_pledge_paid(sides):
    far = (date.today() + timedelta(days=400)).isoformat()

    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        baraka = side.add_user(BARAKA, "Baraka Mwangi")
        side.fund(BARAKA, 100_000)
        port = side.port
        end = (date.today() + timedelta(days=30)).isoformat()
        started = await port.start_campaign(
            user_id=amina, title="School fees", target=1_000_000, end_date=end, pin=PIN, key="s"
        )
        poor = await outcome(port.contribute(
            user_id=baraka, campaign_id=started.id, amount=200_000, anonymous=False, pin=PIN,
            key="c1",
        ))  # fmt: skip
        late = await outcome(port.pledge(
            user_id=baraka, campaign_id=started.id, amount=50_000, due_date=far,
            anonymous=False, pin=PIN, key="p1",
        ))  # fmt: skip
        pledged = await port.pledge(
            user_id=baraka, campaign_id=started.id, amount=50_000, due_date=end,
            anonymous=False, pin=PIN, key="p2",
        )  # fmt: skip
        part = await port.pay_pledge(
            user_id=baraka, pledge_id=pledged.id, amount=20_000, pin=PIN, key="y1"
        )
        over = await outcome(
            port.pay_pledge(user_id=baraka, pledge_id=pledged.id, amount=40_000, pin=PIN, key="y2")
        )
        rest = await port.pay_pledge(
            user_id=baraka, pledge_id=pledged.id, amount=None, pin=PIN, key="y3"
        )
        mine = await port.my_campaigns(user_id=amina, after_id=None, limit=5)
        ended = await port.close_campaign(user_id=amina, campaign_id=started.id, pin=PIN, key="e")
        closed = await outcome(port.contribute(
            user_id=baraka, campaign_id=started.id, amount=1_000, anonymous=False, pin=PIN,
            key="c2",
        ))  # fmt: skip
        return (
            poor,
            late,
            (part.amount, part.balance, part.raised, part.pledge_left),
            over,
            (rest.amount, rest.balance, rest.raised, rest.pledge_left),
            [(c.title, c.raised, c.end_date) for c in mine.items],
            (ended.amount, ended.balance),
            closed[0],
        )

    poor, late, part, over, rest, mine, ended, closed = observe(sides, scenario)
    assert mine == [("School fees", 50_000, mine[0][2])]
    assert poor[0] == "InsufficientFunds"
    assert late == ("ValidationFailed", {"code": "invalid_due_date"})
    assert part == (20_000, 80_000, 20_000, 30_000)
    assert over[0] == "ValidationFailed" and rest == (30_000, 50_000, 50_000, 0)
    assert ended == (50_000, 50_000) and closed == "CampaignNotOpen"


def test_contributions_count_against_the_daily_limit_as_transfers_do(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        baraka = side.add_user(BARAKA, "Baraka Mwangi")
        side.fund(BARAKA, BASIC.daily + 1_000_000)
        port = side.port
        started = await port.start_campaign(
            user_id=amina, title="Church roof", target=50_000_000, end_date=None, pin=PIN, key="s"
        )
        sends = BASIC.daily // BASIC.per_transaction
        for n in range(sends):
            await port.send_money(
                sender_user_id=baraka, recipient_phone=AMINA, amount=BASIC.per_transaction,
                pin=PIN, key=f"d{n}",
            )  # fmt: skip
        left = BASIC.daily - sends * BASIC.per_transaction
        over = await outcome(port.contribute(
            user_id=baraka, campaign_id=started.id, amount=left + 100, anonymous=False, pin=PIN,
            key="c1",
        ))  # fmt: skip
        await port.contribute(
            user_id=baraka, campaign_id=started.id, amount=left // 2, anonymous=False, pin=PIN,
            key="c2",
        )  # fmt: skip
        quote = await outcome(port.quote_transfer(sender_user_id=baraka, amount=left))
        return over, quote

    left = BASIC.daily - BASIC.daily // BASIC.per_transaction * BASIC.per_transaction
    over, quote = observe(sides, scenario)
    assert over == ("LimitExceeded", {"code": "limit_exceeded", "limit": "daily", "allowed": left})
    assert quote[1]["allowed"] == left - left // 2


def test_open_campaigns_are_listed_newest_first_a_page_at_a_time(sides):
    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        for n, title in enumerate(["Water tank", "School fees", "Hospital bill"]):
            await side.port.start_campaign(
                user_id=amina, title=title, target=1_000_000, end_date=None, pin=PIN, key=f"s{n}"
            )
        first = await side.port.open_campaigns(after_id=None, limit=2)
        rest = await side.port.open_campaigns(after_id=first.items[-1].id, limit=2)
        return [c.title for c in first.items], first.more, [c.title for c in rest.items], rest.more

    assert observe(sides, scenario) == (
        ["Hospital bill", "School fees"], True, ["Water tank"], False
    )  # fmt: skip
