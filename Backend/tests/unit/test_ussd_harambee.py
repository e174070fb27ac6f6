"""The USSD Harambee menu on fakes: every screen fits a handset with the longest
values, and the journeys (contribute from the list or by code, pledge and pay in
parts, start, close, cancel) do what they say, once per hop."""

from __future__ import annotations

import re

import pytest

from app.ussd.engine import Context, State, _render_current
from app.ussd.flow import FLOW
from app.ussd.harambee.screens import SCREENS
from app.ussd.texts import LANGUAGES, TEXTS, text
from tests.unit.fakes import FakeUssdServices
from tests.unit.harambee_fakes import days_from_today
from tests.unit.test_ussd_screen_limits import (
    ANYWHERE,
    LONGEST,
    PIN_REASONS,
    WORST_USER,
    _fits,
)
from tests.unit.ussd_harness import PHONE, make_phone

FRIEND, STRANGER = "+254711000002", "+254711000003"
TITLE = "W" * 40  # the longest title a campaign takes
MOST = 10_000_000_000  # KES 100,000,000: the largest target and pledge
BRIEF = {
    "id": 9,
    "code": "482913",
    "title": TITLE,
    "raised": MOST,
    "target": MOST,
    "end_date": days_from_today(27),
    "takes_money": True,
}
PLEDGE = {
    "id": 7,
    "campaign_title": TITLE,
    "campaign_code": "482913",
    "amount": MOST,
    "paid": 1,
    "due_date": days_from_today(27),
    "status": "partially_paid",
}
WORST = {
    "h_list": [BRIEF] * 3,
    "h_more": True,
    "h_campaign": BRIEF,
    "h_amount": 1_000_000_000,  # KES 10,000,000: the most a keypad amount can be
    "h_anon": True,
    "h_due": days_from_today(27),
    "h_pledges": [PLEDGE] * 2,
    "h_pledges_more": True,
    "h_pledge": PLEDGE,
    "h_pay": None,
    "h_new": {"title": TITLE, "target": 1_000_000_000, "end": days_from_today(27)},
    "h_mine": [BRIEF] * 3,
    "h_mine_more": True,
}
HARAMBEE_LONGEST = {
    **LONGEST,
    "title": TITLE,
    "amount": "100,000,000",
    "left": "100,000,000",
    "balance": "99,999,999.99",
    "day": "31/12/26",
}
AMOUNT_REASONS = (
    "err.amount_not_a_number",
    "err.amount_not_whole",
    "err.amount_not_positive",
    "err.amount_too_large",
)
REASONS = {
    "har.list": ("err.har_choose", "err.har_no_code", "err.har_not_open"),
    "har.amount": AMOUNT_REASONS,
    "har.pay_pin": PIN_REASONS,
    "har.due": ("err.har_due_late",),
    "har.pledge_pin": PIN_REASONS,
    "har.part": (*AMOUNT_REASONS, "err.har_over_pledge"),
    "har.pledge_pay_pin": PIN_REASONS,
    "har.new_title": ("err.har_title",),
    "har.new_target": AMOUNT_REASONS,
    "har.new_pin": PIN_REASONS,
    "har.close_pin": PIN_REASONS,
    "har.cancel_pin": PIN_REASONS,
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("screen_id", sorted(screen.id for screen in SCREENS))
def test_every_harambee_screen_fits_a_handset_with_the_longest_values(language, screen_id):
    state = State(PHONE, language, WORST_USER, ["main", screen_id], data=dict(WORST))
    ctx = Context(state, FakeUssdServices(), "s", "h", "*384*123*999#", 1440)
    leads = [None, *((key, HARAMBEE_LONGEST) for key in (*ANYWHERE, *REASONS.get(screen_id, ())))]
    for error in leads:
        state.page = 0
        rendered = _render_current(FLOW, ctx, error)
        _fits(rendered.response)
        # One page, whatever the reason above it: on a list, 98 asks for the next items
        # (a prompt's answer), so nothing may hide on a second page; a menu keeps its
        # options in sight.
        state.page = 1
        assert _render_current(FLOW, ctx, error).response == rendered.response, rendered


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("key", sorted(k for k in TEXTS["en"] if k.startswith("end.har_")))
def test_every_harambee_closing_text_fits_a_handset(language, key):
    reason = text(language, "err.insufficient", **HARAMBEE_LONGEST)
    _fits(f"END {text(language, key, **HARAMBEE_LONGEST, reason=reason)}")


# ---- journeys -----------------------------------------------------------------------


@pytest.fixture
def services() -> FakeUssdServices:
    services = FakeUssdServices()
    services.add_user(PHONE, "Jane Wanjiku", "4821")
    services.add_user(FRIEND, "Amina Otieno", "5937")
    services.cash_in(PHONE, 50_000_00)
    return services


def option(screen: str, label: str) -> str:
    """The number a screen gives an option (the main menu may grow)."""
    match = re.search(rf"(\d+)\. {re.escape(label)}", screen)
    assert match, screen
    return match.group(1)


def to_harambee(phone) -> str:
    home = phone.dial()
    return phone.send(option(home, "Harambee"))


def test_contributing_from_the_list_pays_once_even_when_the_hop_is_retried(services):
    organiser = services.users[FRIEND].user_id
    campaign = services.add_campaign(organiser, "School fees for Amani", 100_000_00)
    phone = make_phone(PHONE, services)
    menu = to_harambee(phone)
    listed = phone.send(option(menu, "Contribute"))
    assert f"1. School fees {campaign.code}" in listed
    assert "Raised KES 0 of 100,000" in phone.send("1")
    assert "1. Pay now" in phone.send("500")
    assert "Pay KES 500 to School fees for Amani" in phone.send("1")
    done = phone.send("4821")
    assert done.startswith("END Paid KES 500 to School fees for Amani.")
    assert "Raised KES 500 of 100,000" in done
    assert phone.hop() == done  # AT retries the PIN hop: the same answer, nothing more
    assert campaign.escrow == 500_00 and services.balances[1] == 49_500_00


def test_a_campaign_is_found_by_its_code_and_refused_when_it_takes_no_money(services):
    campaign = services.add_campaign(2, "Roof for St Mark", 10_000_00)
    phone = make_phone(PHONE, services)
    phone.send(option(to_harambee(phone), "Contribute"))
    assert "No harambee has that code" in phone.send("999999")
    assert "Choose a number or a 6-digit code" in phone.send("12")
    campaign.status = "closed"
    assert "takes no money now" in phone.send(campaign.code)


def test_the_list_pages_three_at_a_time_with_98(services):
    for n in range(5):
        services.add_campaign(2, f"Harambee {n}", 1_000_00)
    phone = make_phone(PHONE, services)
    first = phone.send(option(to_harambee(phone), "Contribute"))
    assert "Harambee 4" in first and "Harambee 2" in first and "98. More" in first
    second = phone.send("98")
    assert "Harambee 1" in second and "Harambee 0" in second and "98. More" not in second


def test_a_pledge_is_made_then_paid_in_two_parts(services):
    campaign = services.add_campaign(2, "Hospital bill", 10_000_00, end_date=days_from_today(27))
    phone = make_phone(PHONE, services)
    phone.send(option(to_harambee(phone), "Contribute"))
    phone.send("1")
    how = phone.send("1000")
    due = phone.send(option(how, "Pledge to pay later"))
    confirm = phone.send(option(due, "In 2 weeks"))
    assert "Pledge KES 1,000 to Hospital bill" in confirm
    assert phone.send("4821").startswith("END You pledged KES 1,000 to Hospital bill")

    pledges = phone.send(option(to_harambee(phone), "My pledges"))
    assert "1. Hospital bill KES 1,000" in pledges
    chosen = phone.send("1")
    part = phone.send(option(chosen, "Pay part"))
    assert "Only KES 1,000 is left" in phone.send("1001")
    assert "Pay KES 400 toward your pledge" in phone.send("400")
    first = phone.send("4821")
    assert "Left to pay KES 600" in first, part

    pledges = phone.send(option(to_harambee(phone), "My pledges"))
    chosen = phone.send("1")
    assert "Pay KES 600" in phone.send(option(chosen, "Pay all"))
    assert "Left to pay KES 0" in phone.send("4821")
    assert campaign.escrow == 1_000_00
    assert phone.send(option(to_harambee(phone), "My pledges")) == (
        "END You have no pledges to pay."
    )


def test_starting_a_harambee_gives_its_code_on_screen(services):
    phone = make_phone(PHONE, services)
    start = phone.send(option(to_harambee(phone), "Start a harambee"))
    assert "Name your harambee" in start
    assert "Use 3 to 40 letters" in phone.send("ab")
    assert "Target amount" in phone.send("Harusi ya Wanjiru")
    ends = phone.send("50000")
    confirm = phone.send(option(ends, "In 1 month"))
    assert "Start Harusi ya Wanjiru, target KES 50,000, ends" in confirm
    done = phone.send("4821")
    code = services.held_campaigns[-1].code
    assert done.startswith("END Your harambee Harusi ya Wanjiru is open.") and code in done
    assert (PHONE, "harambee_started") in services.sms


def test_the_organiser_closes_and_takes_the_money(services):
    campaign = services.add_campaign(1, "Chama fund", 1_000_00)
    services.cash_in(FRIEND, 1_000_00)
    campaign.status = "active"
    friend = make_phone(FRIEND, services)
    friend.send(option(to_harambee(friend), "Contribute"))
    friend.send("1")
    friend.send("300")
    friend.send("1")
    friend.send("5937")
    phone = make_phone(PHONE, services)
    mine = phone.send(option(to_harambee(phone), "My harambees"))
    assert "1. Chama fund 30%" in mine
    manage = phone.send("1")
    confirm = phone.send(option(manage, "Close, take the money"))
    assert "KES 300 goes to your wallet" in confirm
    done = phone.send("4821")
    assert done.startswith("END Chama fund is closed. KES 300 paid into your wallet.")
    assert services.balances[1] == 50_300_00


def test_the_organiser_cancels_and_everyone_is_refunded(services):
    services.add_campaign(1, "Chama fund", 1_000_00)
    services.cash_in(FRIEND, 1_000_00)
    friend = make_phone(FRIEND, services)
    friend.send(option(to_harambee(friend), "Contribute"))
    friend.send("1")
    friend.send("250")
    friend.send("1")
    friend.send("5937")
    assert services.balances[2] == 750_00
    phone = make_phone(PHONE, services)
    phone.send(option(to_harambee(phone), "My harambees"))
    manage = phone.send("1")
    phone.send(option(manage, "Cancel, refund everyone"))
    done = phone.send("4821")
    assert done.startswith("END Chama fund is cancelled. 1 contributor(s) refunded KES 250")
    assert services.balances[2] == 1_000_00
    assert (FRIEND, "harambee_refund") in services.sms


def test_a_wrong_pin_re_prompts_and_a_lock_stops_money_out(services):
    services.add_campaign(2, "Roof", 1_000_00)
    phone = make_phone(PHONE, services)
    phone.send(option(to_harambee(phone), "Contribute"))
    phone.send("1")
    phone.send("100")
    phone.send("1")
    assert "Wrong PIN. 2 attempt(s) left." in phone.send("0000")
    assert "1 attempt(s) left" in phone.send("0001")
    assert phone.send("0002").startswith("END")
    assert phone.send(option(to_harambee(phone), "My pledges")).startswith("END")
    assert services.held_campaigns[0].escrow == 0


def test_no_pin_and_no_money_for_someone_without_a_harambee(services):
    phone = make_phone(PHONE, services)
    assert phone.send(option(to_harambee(phone), "My harambees")).startswith(
        "END You run no open harambee."
    )
    listed = phone.send(option(to_harambee(phone), "Contribute"))
    assert "(none open now)" in listed


def test_my_pledges_and_my_harambees_page_with_98_showing_each_once(services):
    from tests.unit.harambee_fakes import FakePledge

    for n in range(3):
        campaign = services.add_campaign(2, f"Pledged {n}", 1_000_00, end_date=days_from_today(27))
        services.held_pledges.append(
            FakePledge(n + 1, campaign, 1, (n + 1) * 100_00, days_from_today(26))
        )
    for n in range(5):
        services.add_campaign(1, f"Mine {n}", 1_000_00)
    phone = make_phone(PHONE, services)

    first = phone.send(option(to_harambee(phone), "My pledges"))
    assert "98. More" in first
    second = phone.send("98")
    assert "98. More" not in second
    shown = re.findall(r"Pledged \d", first + second)
    assert sorted(shown) == ["Pledged 0", "Pledged 1", "Pledged 2"]

    first = phone.send(option(to_harambee(phone), "My harambees"))
    assert "98. More" in first
    second = phone.send("98")
    assert "98. More" not in second
    shown = re.findall(r"Mine \d", first + second)
    assert sorted(shown) == [f"Mine {n}" for n in range(5)]
