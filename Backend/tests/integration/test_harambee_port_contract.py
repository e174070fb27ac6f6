"""The Harambee part of the USSD port's contract: the fake (tests/unit/harambee_fakes.py)
and the facade (app/services/facade.py) answer alike."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.domain import harambee as rules
from app.domain.records.harambee import CampaignFilter, CampaignRow, PledgeFilter
from app.services.harambee.contributions import ContributionRequest
from app.services.transfers import TransferRequest
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


# The calls as the USSD menu makes them.
def start(port, user: int, title: str, target: int, end: date | None = None, key: str = "s"):
    return port.start_campaign_with_pin(
        user_id=user, title=title, target=target, end_date=end, pin=PIN, key=key, channel="ussd"
    )


def give(port, user: int, campaign_id: int, amount: int, key: str):
    request = ContributionRequest(user, campaign_id, amount, key, channel="ussd")
    return port.contribute(request, pin=PIN)


def promise(port, user: int, campaign_id: int, amount: int, due: date, key: str, anon=False):
    return port.pledge_with_pin(
        user_id=user, campaign_id=campaign_id, amount=amount, due_date=due, anonymous=anon,
        pin=PIN, key=key, channel="ussd",
    )  # fmt: skip


def pay(port, user: int, pledge_id: int, amount: int | None, key: str):
    return port.pay_pledge(
        user_id=user, pledge_id=pledge_id, amount=amount, key=key, channel="ussd", pin=PIN
    )


def open_now(after_id: int | None = None) -> CampaignFilter:
    return CampaignFilter(before_id=after_id, stored_status="active", ends_from=date.today())


def takes_money(row: CampaignRow) -> bool:
    return rules.takes_money(row.stored_status, row.end_date, date.today())


def test_a_campaign_found_by_code_takes_contributions_and_pledges(sides):
    due = date.today() + timedelta(days=20)

    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        baraka = side.add_user(BARAKA, "Baraka Mwangi")
        side.fund(BARAKA, 1_000_000)
        port = side.port
        started = (await start(port, amina, "Hospital bill", 5_000_000)).campaign
        found = await port.campaign_by_code(code=started.code)
        unknown = "100000" if started.code != "100000" else "100001"
        missing = (
            await outcome(port.campaign_by_code(code=unknown)),
            await outcome(port.campaign_by_code(code="000000")),  # no code starts with 0
        )
        paid = await give(port, baraka, found.id, 200_000, "c")
        again = await give(port, baraka, found.id, 200_000, "c")
        too_much = await outcome(give(port, baraka, found.id, BASIC.per_transaction + 1, "c2"))
        pledged = (await promise(port, baraka, found.id, 300_000, due, "p", anon=True)).pledge
        pledges, _ = await port.pledges(
            where=PledgeFilter(user_id=baraka, payable_only=True), limit=5
        )
        after = await port.campaign_by_code(code=started.code)
        return (
            (found.id == started.id, found.title, found.target_amount, found.current_amount,
             takes_money(found)),
            (missing[0][0], missing[1]),
            (paid.amount, paid.balance, paid.raised, paid.pledge_id, paid.replayed),
            (again.reference == paid.reference, again.replayed),
            too_much,
            (pledged.campaign_title, pledged.amount, pledged.paid_amount, pledged.due_date,
             pledged.status),
            [(p.amount, p.paid_amount) for p in pledges],
            after.current_amount,
        )  # fmt: skip

    found, missing, paid, again, too_much, pledged, pledges, raised = observe(sides, scenario)
    assert found == (True, "Hospital bill", 5_000_000, 0, True)
    assert missing == ("NotFound", ("ValidationFailed", {"code": "invalid_code"}))
    assert paid == (200_000, 800_000, 200_000, None, False) and again == (True, True)
    assert too_much[0] == "LimitExceeded"
    assert pledged == ("Hospital bill", 300_000, 0, due, "pledged")
    assert pledges == [(300_000, 0)] and raised == 200_000


def test_a_contribution_refused_and_a_pledge_paid(sides):
    far = date.today() + timedelta(days=400)

    async def scenario(side: Side):
        amina = side.add_user(AMINA, "Amina Njeri")
        baraka = side.add_user(BARAKA, "Baraka Mwangi")
        side.fund(BARAKA, 100_000)
        port = side.port
        end = date.today() + timedelta(days=30)
        started = (await start(port, amina, "School fees", 1_000_000, end)).campaign
        poor = await outcome(give(port, baraka, started.id, 200_000, "c1"))
        late = await outcome(promise(port, baraka, started.id, 50_000, far, "p1"))
        pledged = (await promise(port, baraka, started.id, 50_000, end, "p2")).pledge
        part, part_left = await pay(port, baraka, pledged.id, 20_000, "y1")
        over = await outcome(pay(port, baraka, pledged.id, 40_000, "y2"))
        rest, rest_left = await pay(port, baraka, pledged.id, None, "y3")
        mine, _ = await port.campaigns(
            where=CampaignFilter(organiser_id=amina, stored_status="active"), limit=5
        )
        ended = await port.close_campaign_with_pin(
            user_id=amina, campaign_id=started.id, pin=PIN, key="e", channel="ussd"
        )
        closed = await outcome(give(port, baraka, started.id, 1_000, "c2"))
        assert ended.payout is not None
        return (
            poor,
            late,
            (part.amount, part.balance, part.raised, part_left.remaining),
            over,
            (rest.amount, rest.balance, rest.raised, rest_left.remaining),
            [(c.title, c.current_amount, c.end_date) for c in mine],
            (ended.payout.amount, ended.payout.balances[amina]),
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
        started = (await start(port, amina, "Church roof", 50_000_000)).campaign
        sends = BASIC.daily // BASIC.per_transaction
        for n in range(sends):
            request = TransferRequest(baraka, AMINA, BASIC.per_transaction, f"d{n}")
            await port.send_money(request, pin=PIN)
        left = BASIC.daily - sends * BASIC.per_transaction
        over = await outcome(give(port, baraka, started.id, left + 100, "c1"))
        await give(port, baraka, started.id, left // 2, "c2")
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
            await start(side.port, amina, title, 1_000_000, key=f"s{n}")
        first, more = await side.port.campaigns(where=open_now(), limit=2)
        rest, more_after = await side.port.campaigns(where=open_now(first[-1].id), limit=2)
        return [c.title for c in first], more, [c.title for c in rest], more_after

    assert observe(sides, scenario) == (
        ["Hospital bill", "School fees"], True, ["Water tank"], False
    )  # fmt: skip
