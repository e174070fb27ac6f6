"""Send money over USSD, hop by hop, with fake services: every reason to re-prompt,
the invitation, the PIN, and a confirm hop that can never send twice."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.pin import lock_end_text
from tests.unit.fakes import FakeUssdServices
from tests.unit.ussd_harness import PHONE, make_phone

AMINA = "+254711000002"
AMINA_LOCAL = "0711000002"
STRANGER_LOCAL = "0722000333"
KES = 100  # cents


def jane_and_amina(balance: int = 1_000 * KES, language: str = "en"):
    """Jane (PIN 4821, KES 1,000) has dialled; Amina Otieno is registered."""
    services = FakeUssdServices()
    jane = services.add_user(PHONE, "Jane Wanjiku", "4821", language)
    services.add_user(AMINA, "Amina Otieno", "5937")
    if balance:
        services.cash_in(PHONE, balance)
    phone = make_phone(services=services)
    phone.dial()
    return phone, jane.user_id


def at_amount(**kwargs):
    phone, jane = jane_and_amina(**kwargs)
    phone.send("1")
    phone.send(AMINA_LOCAL)
    return phone, jane


def at_confirm(amount: str = "100", **kwargs):
    phone, jane = at_amount(**kwargs)
    phone.send(amount)
    return phone, jane


# ---- the happy path --------------------------------------------------------------


def test_send_money_walk_shows_name_and_fee_then_ends_with_reference_and_balance():
    phone, jane = jane_and_amina()
    assert phone.send("1") == "CON Enter the phone number to send to\n0. Back 00. Home"
    assert phone.send(AMINA_LOCAL) == (
        "CON Send to Amina Otieno +2547****0002\nEnter amount in KES\n0. Back 00. Home"
    )
    assert phone.send("500") == (
        "CON Send KES 500 to Amina Otieno +2547****0002\nFee 5, total KES 505\n"
        "Enter PIN\n9. Repeat monthly\n0. Back 00. Home"
    )
    end = phone.send("4821")
    assert end == (
        "END Sent KES 500 to Amina Otieno +2547****0002. Fee KES 5. Ref REF0000002. "
        "New balance KES 495."
    )
    services = phone.services
    assert services.balances == {jane: 495 * KES, jane + 1: 500 * KES}
    assert services.transfers == [(jane, jane + 1, 500 * KES, 5 * KES)]
    assert services.sms == [(PHONE, "transfer_sent"), (AMINA, "transfer_received")]


def test_direct_dial_with_phone_amount_and_pin_sends_in_one_hop():
    phone, jane = jane_and_amina()
    phone.session_id = "ATUid_direct"
    phone.inputs = ["1", AMINA_LOCAL, "100", "4821"]  # *384*123*1*0711000002*100*4821#
    assert phone.hop().startswith("END Sent KES 100 to Amina Otieno")
    assert phone.services.balances[jane] == 900 * KES


@pytest.mark.parametrize("typed", ["+254711000002", "254711000002", "711000002", "0711 000 002"])
def test_recipient_number_in_any_format_finds_the_same_person(typed):
    phone, _ = jane_and_amina()
    phone.send("1")
    assert phone.send(typed).startswith("CON Send to Amina Otieno +2547****0002")


def test_98_on_the_amount_prompt_is_an_amount_not_more():
    phone, _ = at_amount()
    assert phone.send("98").startswith("CON Send KES 98 to Amina Otieno")


def test_send_money_speaks_kiswahili_to_a_kiswahili_user():
    phone, _ = at_amount(language="sw")
    assert phone.send("100").startswith("CON Tuma KES 100 kwa Amina Otieno +2547****0002\n")
    assert phone.send("4821").startswith("END Umetuma KES 100 kwa Amina Otieno")


# ---- the recipient -------------------------------------------------------------


@pytest.mark.parametrize("typed", ["12345", "abc", "07110000021234"])
def test_an_invalid_phone_number_reprompts_with_the_reason(typed):
    phone, _ = jane_and_amina()
    phone.send("1")
    assert phone.send(typed) == (
        "CON That is not a valid phone number.\nEnter the phone number to send to\n0. Back 00. Home"
    )


@pytest.mark.parametrize("typed", ["0712345678", "+254712345678"])
def test_own_number_reprompts_you_cannot_send_to_yourself(typed):
    phone, _ = jane_and_amina()
    phone.send("1")
    assert phone.send(typed).startswith(
        "CON You cannot send money to yourself.\nEnter the phone number to send to"
    )


def test_unregistered_number_is_offered_an_invite_sent_once_a_day():
    phone, _ = jane_and_amina()
    phone.send("1")
    assert phone.send(STRANGER_LOCAL) == (
        "CON +2547****0333 is not on PayTrace.\n1. Send them an invite SMS\n"
        "2. Enter another number\n0. Back 00. Home"
    )
    assert phone.send("1") == (
        "END We have sent +2547****0333 an SMS inviting them to PayTrace. "
        "You can send to them once they register."
    )
    again = make_phone(services=phone.services)
    again.dial()
    again.send("1")
    again.send(STRANGER_LOCAL)
    assert again.send("1").startswith("END +2547****0333 was already invited today.")
    assert phone.services.sms == [("+254722000333", "invite")]


def test_an_invite_past_the_days_cap_ends_saying_so_and_sends_nothing():
    phone, jane = jane_and_amina()
    phone.services.invites_per_day = 2
    phone.services.invited |= {(jane, "+254722000998"), (jane, "+254722000999")}
    phone.send("1")
    phone.send(STRANGER_LOCAL)
    assert phone.send("1") == (
        "END You have reached today's limit of 2 invitations. You can invite more tomorrow."
    )
    assert phone.services.sms == []


def test_enter_another_number_goes_back_to_the_phone_prompt():
    phone, _ = jane_and_amina()
    phone.send("1")
    phone.send(STRANGER_LOCAL)
    assert phone.send("2").startswith("CON Enter the phone number to send to")
    assert phone.send(AMINA_LOCAL).startswith("CON Send to Amina Otieno")
    assert phone.services.sms == []


def test_invitee_who_registered_meanwhile_goes_on_to_the_amount():
    phone, _ = jane_and_amina()
    phone.send("1")
    phone.send(STRANGER_LOCAL)
    phone.services.add_user("+254722000333", "Baraka Mwangi", "7305")
    assert phone.send("1").startswith("CON Send to Baraka Mwangi +2547****0333")
    assert phone.send("0").startswith("CON Enter the phone number to send to")


# ---- the amount ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("000", "The amount must be more than 0."),  # a lone 0 is Back, as everywhere
        ("-50", "The amount must be more than 0."),
        ("abc", "Enter the amount in digits, e.g. 500."),
        ("10.50", "Whole shillings only, no cents."),
        ("20000000", "That amount is too large."),
    ],
)
def test_a_bad_amount_reprompts_with_the_reason_and_asks_nothing_of_the_ledger(typed, reason):
    phone, _ = at_amount()
    assert phone.send(typed) == (
        f"CON {reason}\nSend to Amina Otieno +2547****0002\nEnter amount in KES\n0. Back 00. Home"
    )
    assert "quote_transfer" not in phone.services.calls


def test_amount_above_the_per_transaction_limit_says_the_limit():
    phone, _ = at_amount(balance=200_000 * KES)
    assert phone.send("80000").startswith(
        "CON Above your limit of KES 70,000 per transaction.\nSend to Amina Otieno"
    )


def test_amount_above_the_daily_limit_says_how_much_is_left_today():
    phone, jane = at_amount(balance=200_000 * KES)
    phone.services.sent_today[jane] = 140_000 * KES
    assert phone.send("20000").startswith(
        "CON Above your daily limit. You can send KES 10,000 more today."
    )


def test_amount_above_the_30_day_limit_says_how_much_is_left():
    phone, jane = at_amount(balance=200_000 * KES)
    phone.services.sent_30_days[jane] = 290_000 * KES
    assert phone.send("20000").startswith(
        "CON Above your 30-day limit. You can send KES 10,000 more."
    )


def test_amount_above_the_balance_says_the_balance_and_the_total_with_fee():
    phone, _ = at_amount()
    assert phone.send("1000").startswith(
        "CON Balance too low: KES 1,000. With the fee this needs KES 1,010.\nSend to Amina"
    )
    assert phone.send("990").startswith("CON Send KES 990 to Amina Otieno")


# ---- the PIN and the confirm hop ---------------------------------------------------


def test_wrong_pin_at_confirm_reprompts_with_attempts_left_and_sends_nothing():
    phone, _ = at_confirm()
    assert phone.send("1111").startswith(
        "CON Wrong PIN. 2 attempt(s) left.\nSend KES 100 to Amina Otieno"
    )
    assert phone.send("12").startswith("CON PIN must be 4 digits.")
    assert phone.services.transfers == []
    assert phone.send("4821").startswith("END Sent KES 100")


def _until(seconds: int) -> str:
    return lock_end_text(datetime.now(UTC) + timedelta(seconds=seconds), datetime.now(UTC))


def test_third_wrong_pin_ends_saying_until_when_money_out_is_locked():
    phone, _ = at_confirm()
    phone.send("1111")
    phone.send("2222")
    assert phone.send("3333") == (
        f"END Wrong PIN 3 times. Sending and withdrawing are locked until {_until(30 * 60)}. "
        "You can still receive money."
    )
    assert phone.services.transfers == []


def test_choosing_send_money_with_a_locked_pin_ends_at_once_with_the_lock_end():
    phone, jane = jane_and_amina()
    phone.services.lock_for(jane, 601)
    assert phone.send("1") == (
        f"END Your PIN is locked until {_until(601)}. You can still receive money."
    )


def test_choosing_send_money_with_a_pin_that_needs_a_reset_says_how_to_reset_it():
    phone, jane = jane_and_amina()
    phone.services.require_reset(jane)
    assert phone.send("1") == (
        "END Your PIN is locked. Reset it with an SMS code in the PayTrace app, or call "
        "support. You can still receive money."
    )


def test_pin_locked_by_another_session_before_confirm_ends_with_the_lock_end():
    phone, jane = at_confirm()
    phone.services.lock_for(jane, 1200)
    assert phone.send("4821").startswith(f"END Your PIN is locked until {_until(1200)}.")
    assert phone.services.transfers == []


def test_repeated_confirm_hop_is_answered_identically_and_sends_once():
    phone, jane = at_confirm()
    first = phone.send("4821")
    again = phone.hop()  # AT retries the hop: same sessionId, same text
    assert again == first
    assert len(phone.services.transfers) == 1
    assert phone.services.calls.count("send_money") == 1
    assert phone.services.balances[jane] == 900 * KES


def test_confirm_hop_run_again_without_its_stored_answer_still_sends_once():
    # The answer was never saved (the process died after the ledger committed):
    # the retry runs the flow again, and the hop's idempotency key stops a second send.
    phone, jane = at_confirm()
    redis, key = phone.store._redis, phone.session_key
    before = asyncio.run(redis.get(key))
    first = phone.send("4821")
    asyncio.run(redis.set(key, before))
    assert phone.hop() == first
    assert phone.services.calls.count("send_money") == 2
    assert len(phone.services.transfers) == 1
    assert phone.services.balances[jane] == 900 * KES
    assert len(phone.services.sms) == 2


def test_the_same_pin_in_another_session_is_another_transfer():
    phone, _ = at_confirm()
    phone.send("4821")
    other = make_phone(services=phone.services)
    other.dial()
    for value in ("1", AMINA_LOCAL, "100"):
        other.send(value)
    assert other.send("4821").startswith("END Sent KES 100")
    assert len(phone.services.transfers) == 2


def test_balance_spent_before_confirm_ends_with_the_reason_and_sends_nothing():
    phone, jane = at_confirm(amount="900")
    phone.services.balances[jane] = 300 * KES  # spent from another session meanwhile
    assert phone.send("4821") == (
        "END Not sent. Balance too low: KES 300. With the fee this needs KES 910."
    )
    assert phone.services.transfers == []


def test_daily_limit_reached_before_confirm_ends_with_the_reason():
    phone, jane = at_confirm()
    phone.services.sent_today[jane] = 149_950 * KES
    assert phone.send("4821") == (
        "END Not sent. Above your daily limit. You can send KES 50 more today."
    )


# ---- navigation ----------------------------------------------------------------


def test_back_goes_one_screen_back_and_home_forgets_the_journey():
    phone, _ = at_confirm()
    assert phone.send("0").startswith("CON Send to Amina Otieno")
    assert phone.send("0").startswith("CON Enter the phone number to send to")
    phone.send(AMINA_LOCAL)
    assert phone.send("00").startswith("CON PayTrace - Hi Jane\n1. Send money")
    raw = asyncio.run(phone.store._redis.get(phone.session_key))
    assert json.loads(raw)["state"]["data"] == {}


def test_the_pin_typed_at_confirm_is_never_kept_in_the_session():
    phone, _ = at_confirm()
    phone.send("4821")
    raw = asyncio.run(phone.store._redis.get(phone.session_key))
    assert raw and "4821" not in raw


def test_new_user_with_no_money_is_told_their_balance():
    services = FakeUssdServices()
    services.add_user(PHONE, "Jane Wanjiku", "4821")
    services.add_user(AMINA, "Amina Otieno", "5937")
    phone = make_phone(services=services)
    phone.dial()
    for value in ("1", AMINA_LOCAL):
        phone.send(value)
    assert phone.send("10").startswith("CON Balance too low: KES 0.")
