"""A merchant's request to pay as the first screen of the payer's next dial, hop by hop,
with fake services and fakeredis: shown only to a flagged caller on a plain dial, paid
with the PIN through the order's payment (idempotent hops, wrong PIN and lock as Send
money), declined, or left for later; a stale flag dropped."""

from __future__ import annotations

import asyncio

from app.ussd.session_store import pay_request_key
from tests.unit.fakes import FakeUssdServices
from tests.unit.ussd_harness import PHONE, Phone, make_phone

TILL = "512345"
CODE = "48291306"
KES = 100
MENU = "CON PayTrace - Hi Jane\n1. Send money"
ASKS = "CON MAMA MBOGA asks KES 250 for Sukuma wiki.\n1. Pay\n2. Decline\n0. Later"


def asked(language: str = "en", description: str | None = "Sukuma wiki", flag: bool = True):
    """Jane (PIN 4821, KES 1,000) was asked by MAMA MBOGA to pay order CODE (KES 250)."""
    services = FakeUssdServices()
    jane = services.add_user(PHONE, "Jane Wanjiku", "4821", language)
    services.cash_in(PHONE, 1_000 * KES)
    services.add_merchant(TILL, "MAMA MBOGA")
    services.add_order(CODE, TILL, 250 * KES, description)
    request_id = services.add_pay_request(jane.user_id, CODE)
    phone = make_phone(services=services)
    if flag:
        asyncio.run(phone.store.flag_pay_request(PHONE))
    return phone, jane.user_id, request_id


def flagged(phone: Phone) -> bool:
    return asyncio.run(phone.store._redis.exists(pay_request_key("test:", PHONE))) == 1


def test_the_request_is_the_first_screen_and_pays_the_order_with_the_pin():
    phone, jane, _ = asked()
    assert phone.dial() == ASKS
    assert phone.send("1") == (
        "CON Pay MAMA MBOGA KES 250 for Sukuma wiki. Fee KES 0.\n"
        "Enter PIN to confirm\n0. Back 00. Home"
    )
    assert phone.send("4821") == (
        "END Paid KES 250 to MAMA MBOGA for Sukuma wiki. Ref REF0000002. New balance KES 750."
    )
    services = phone.services
    assert services.orders[CODE].status == "paid"
    assert services.pay_requests[0].status == "approved"
    assert services.balances[jane] == 750 * KES
    assert services.merchant_payments == [(jane, TILL, 250 * KES, 0)]
    # The next dial: nothing pending, the flag dropped, the main menu.
    assert phone.dial().startswith(MENU)
    assert not flagged(phone)
    assert phone.dial().startswith(MENU)
    # Looked up on the first dial and the stale flag's one; no flag, no lookup.
    assert phone.services.calls.count("pending_pay_request") == 2


def test_in_kiswahili_without_a_description():
    phone, _, _ = asked(language="sw", description=None)
    assert phone.dial() == (
        "CON MAMA MBOGA anaomba KES 250 kwa oda 48291306.\n1. Lipa\n2. Kataa\n0. Baadaye"
    )
    assert phone.send("2") == ("END Umekataa ombi la MAMA MBOGA la KES 250. Hakuna kilicholipwa.")


def test_declining_ends_and_pays_nothing_and_the_next_dial_is_the_menu():
    phone, jane, _ = asked()
    phone.dial()
    assert phone.send("2") == (
        "END You declined MAMA MBOGA's request for KES 250. Nothing was paid."
    )
    assert phone.services.pay_requests[0].status == "declined"
    assert phone.services.balances[jane] == 1_000 * KES
    assert phone.services.orders[CODE].status == "awaiting_payment"
    assert phone.dial().startswith(MENU)


def test_later_goes_to_the_main_menu_and_the_request_comes_back_on_the_next_dial():
    phone, _, _ = asked()
    phone.dial()
    assert phone.send("0").startswith(MENU)
    assert phone.services.merchant_payments == []
    assert phone.dial() == ASKS


def test_an_unflagged_caller_is_never_looked_up_and_a_shortcut_dial_is_left_alone():
    phone, _, _ = asked(flag=False)
    assert phone.dial().startswith(MENU)
    assert "pending_pay_request" not in phone.services.calls
    flagged_phone, _, _ = asked()
    flagged_phone.session_id = "ATUid_shortcut"
    flagged_phone.inputs = ["5"]  # *384*123*5# : the caller chose where to go
    assert flagged_phone.hop().startswith("CON Pay a merchant")


def test_an_expired_or_canceled_request_is_not_shown():
    for status in ("expired", "canceled"):
        phone, _, _ = asked()
        phone.services.orders[CODE].status = status
        assert phone.dial().startswith(MENU)
        assert not flagged(phone)


def test_a_wrong_pin_re_prompts_and_three_lock_as_send_money():
    phone, _jane, _ = asked()
    phone.dial()
    phone.send("1")
    assert phone.send("1111").startswith(
        "CON Wrong PIN. 2 attempt(s) left.\nPay MAMA MBOGA KES 250 for"
    )
    phone.send("1112")
    assert phone.send("1113").startswith(
        "END Wrong PIN 3 times. Sending and withdrawing are locked until"
    )
    assert phone.services.merchant_payments == []
    assert phone.services.pay_requests[0].status == "pending"
    # Locked: choosing Pay on the request ends at once, before any quote.
    assert phone.dial() == ASKS
    assert phone.send("1").startswith("END Your PIN is locked until")
    assert phone.services.calls.count("quote_merchant_payment") == 1


def test_the_confirm_hop_repeated_pays_once():
    phone, _, _ = asked()
    phone.dial()
    phone.send("1")
    first = phone.send("4821")
    assert phone.hop() == first
    assert len(phone.services.merchant_payments) == 1


def test_paid_by_code_meanwhile_ends_with_nothing_paid():
    phone, _jane, _ = asked()
    phone.dial()
    phone.services.orders[CODE].status = "paid"
    assert phone.send("1") == "END Not paid. That order is already paid."
    phone2, _, _ = asked()
    phone2.dial()
    phone2.services.orders[CODE].status = "expired"
    assert phone2.send("2") == "END That request is no longer pending. Nothing was paid."


def test_another_option_re_prompts():
    phone, _, _ = asked()
    phone.dial()
    assert phone.send("7") == f"CON Invalid choice.\n{ASKS[4:]}"
