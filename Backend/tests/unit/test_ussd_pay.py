"""Pay a merchant's till or a pay order over USSD, hop by hop, with fake services, in
both languages: every reason to re-prompt, the PIN, and a confirm hop that can never pay
twice."""

from __future__ import annotations

import asyncio

import pytest

from app.domain.merchants import FeeRule
from app.domain.money import format_kes
from app.services.merchant_payments.tills import merchant_fee
from tests.support import seeds
from tests.unit.fakes import FakeUssdServices
from tests.unit.ussd_harness import PHONE, make_phone

TILL = "512345"
KES = 100  # cents
RULE = FeeRule(50, 100, 20_000)  # the merchant's: 0.5 %, KES 1 to KES 200
BASIC = seeds.tier(1)
OVER_LIMIT = str(BASIC.per_transaction // KES + 1)


def jane_dialled(balance: int = 1_000 * KES, language: str = "en"):
    """Jane (PIN 4821) has dialled; MAMA MBOGA takes payments at till 512345."""
    services = FakeUssdServices()
    jane = services.add_user(PHONE, "Jane Wanjiku", "4821", language)
    services.add_merchant(TILL, "MAMA MBOGA", RULE)
    if balance:
        services.cash_in(PHONE, balance)
    phone = make_phone(services=services)
    phone.dial()
    return phone, jane.user_id


def at_confirm(amount: str = "250", **kwargs):
    phone, jane = jane_dialled(**kwargs)
    phone.send("5")
    phone.send(TILL)
    phone.send(amount)
    return phone, jane


def test_pay_walk_shows_the_merchant_and_no_fee_then_ends_with_reference_and_balance():
    phone, jane = jane_dialled()
    assert phone.send("5") == (
        "CON Pay a merchant\nEnter till number or order code\n1. Bills / Airtime\n0. Back 00. Home"
    )
    assert phone.send(TILL) == (
        "CON Pay MAMA MBOGA (till 512345)\nEnter amount in KES\n0. Back 00. Home"
    )
    assert phone.send("250") == (
        "CON Pay MAMA MBOGA (till 512345) KES 250. Fee KES 0.\n"
        "Enter PIN to confirm\n0. Back 00. Home"
    )
    assert phone.send("4821") == (
        "END Paid KES 250 to MAMA MBOGA (till 512345). Ref REF0000002. New balance KES 750."
    )
    services = phone.services
    assert services.balances[jane] == 750 * KES
    assert services.merchants[TILL].balance == 250 * KES - merchant_fee(RULE, 250 * KES)
    assert services.merchant_payments == [(jane, TILL, 250 * KES, merchant_fee(RULE, 250 * KES))]
    assert services.sms == [(PHONE, "merchant_paid"), (TILL, "merchant_payment_received")]


def test_pay_walk_in_kiswahili():
    phone, _ = jane_dialled(language="sw")
    assert phone.send("5") == (
        "CON Lipa mfanyabiashara\nWeka nambari ya till au msimbo wa oda\n"
        "1. Bili / Muda wa maongezi\n0. Rudi 00. Mwanzo"
    )
    assert phone.send(TILL) == (
        "CON Lipa MAMA MBOGA (till 512345)\nWeka kiasi cha KES\n0. Rudi 00. Mwanzo"
    )
    assert phone.send("250") == (
        "CON Lipa MAMA MBOGA (till 512345) KES 250. Ada KES 0.\n"
        "Weka PIN kuthibitisha\n0. Rudi 00. Mwanzo"
    )
    assert phone.send("4821") == (
        "END Umelipa KES 250 kwa MAMA MBOGA (till 512345). Kumb. REF0000002. Salio jipya KES 750."
    )


@pytest.mark.parametrize("typed", ["1234", "0123456", "123456789", "51234a", "shop"])
def test_a_malformed_till_re_prompts(typed):
    phone, _ = jane_dialled()
    phone.send("5")
    assert phone.send(typed).startswith(
        "CON A till number is 5 to 7 digits, an order code 8.\nPay a merchant"
    )
    assert phone.services.calls.count("find_merchant") == 0


def test_an_unknown_till_re_prompts():
    phone, _ = jane_dialled()
    phone.send("5")
    assert phone.send("999999").startswith("CON No merchant has that till number.\nPay a")


def test_a_suspended_merchant_re_prompts_in_kiswahili():
    phone, _ = jane_dialled(language="sw")
    phone.services.merchants[TILL].status = "suspended"
    phone.send("5")
    assert phone.send(TILL).startswith("CON Mfanyabiashara huyo hapokei malipo sasa.\nLipa")


def test_a_merchant_suspended_before_the_pin_ends_with_nothing_paid():
    phone, jane = at_confirm()
    phone.services.merchants[TILL].status = "suspended"
    assert phone.send("4821") == "END Not paid. That merchant is not taking payments now."
    assert phone.services.merchant_payments == [] and phone.services.balances[jane] == 1_000 * KES


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("abc", "Enter the amount in digits, e.g. 500."),
        ("12.50", "Whole shillings only, no cents."),
        ("1001", "Balance too low: KES 1,000. With the fee this needs KES 1,001."),
        (
            OVER_LIMIT,
            f"Above your limit of KES {format_kes(BASIC.per_transaction)} per transaction.",
        ),
    ],
)
def test_a_bad_amount_re_prompts_with_the_reason(typed, reason):
    phone, _ = jane_dialled()
    phone.send("5")
    phone.send(TILL)
    assert phone.send(typed).startswith(f"CON {reason}\nPay MAMA MBOGA")


def test_a_wrong_pin_re_prompts_with_the_attempts_left_and_pays_nothing():
    phone, _ = at_confirm()
    assert phone.send("1111").startswith("CON Wrong PIN. 2 attempt(s) left.\nPay MAMA MBOGA")
    assert phone.services.merchant_payments == []
    assert phone.send("4821").startswith("END Paid KES 250")


def test_choosing_pay_with_a_locked_pin_ends_at_once():
    phone, jane = jane_dialled()
    phone.services.lock_for(jane, 601)
    assert phone.send("5").startswith("END Your PIN is locked until")
    assert "find_merchant" not in phone.services.calls


def test_repeated_confirm_hop_is_answered_identically_and_pays_once():
    phone, _ = at_confirm()
    first = phone.send("4821")
    assert phone.hop() == first
    assert phone.services.calls.count("pay_merchant") == 1
    assert len(phone.services.merchant_payments) == 1


def test_confirm_hop_run_again_without_its_stored_answer_still_pays_once():
    phone, jane = at_confirm()
    redis, key = phone.store._redis, phone.session_key
    before = asyncio.run(redis.get(key))
    first = phone.send("4821")
    asyncio.run(redis.set(key, before))
    assert phone.hop() == first
    assert phone.services.calls.count("pay_merchant") == 2
    assert len(phone.services.merchant_payments) == 1
    assert phone.services.balances[jane] == 750 * KES


def test_the_payment_shows_on_the_mini_statement_as_a_till_payment():
    phone, _ = at_confirm()
    phone.send("4821")
    phone.dial()
    phone.send("6")
    phone.send("2")
    statement = phone.send("4821")
    assert "Till pay -250 REF0000002" in statement


def test_balance_and_limits_changed_since_the_quote_end_with_nothing_paid():
    phone, jane = at_confirm(amount="900")
    phone.services.balances[jane] = 100 * KES
    assert phone.send("4821") == (
        "END Not paid. Balance too low: KES 100. With the fee this needs KES 900."
    )


def test_the_fee_rule_rounds_half_up_and_holds_to_its_bounds_and_the_payment():
    rule = FeeRule(50, 100, 20_000)
    # 0.5 % of 30,100 cents is 150.5: half up to 151; of 30,099 is 150.495: down to 150.
    assert (merchant_fee(rule, 30_100), merchant_fee(rule, 30_099)) == (151, 150)
    assert merchant_fee(rule, 19_999) == 100  # 99.995 -> 100, the minimum anyway
    assert merchant_fee(rule, 10_000) == 100  # 50 below the minimum
    assert merchant_fee(rule, 4_000_000) == 20_000  # exactly the cap
    assert merchant_fee(rule, 4_000_100) == 20_000  # above it, held to the cap
    assert merchant_fee(rule, 40) == 40  # a minimum above the payment takes the payment
    assert merchant_fee(FeeRule(0, 0, 0), 1_000_000) == 0
    assert merchant_fee(FeeRule(10_000, 0, 10**9), 12_345) == 12_345  # 100 %


# ---- Pay orders: 8 digits at the same prompt ----------------------------------------

CODE = "48291306"  # a right Luhn digit
MISTYPED = "48291307"  # the last digit slipped


def with_order(description: str | None = "Sukuma wiki", **kwargs):
    phone, jane = jane_dialled(**kwargs)
    phone.services.add_order(CODE, TILL, 250 * KES, description)
    return phone, jane


def test_pay_an_order_skips_the_amount_and_names_its_description():
    phone, jane = with_order()
    phone.send("5")
    assert phone.send(CODE) == (
        "CON Pay MAMA MBOGA KES 250 for Sukuma wiki. Fee KES 0.\n"
        "Enter PIN to confirm\n0. Back 00. Home"
    )
    assert phone.send("4821") == (
        "END Paid KES 250 to MAMA MBOGA for Sukuma wiki. Ref REF0000002. New balance KES 750."
    )
    services = phone.services
    assert services.orders[CODE].status == "paid"
    assert services.balances[jane] == 750 * KES
    assert services.merchant_payments == [(jane, TILL, 250 * KES, merchant_fee(RULE, 250 * KES))]
    assert services.sms == [
        (PHONE, "merchant_order_paid"),
        (TILL, "merchant_order_payment_received"),
    ]
    assert "find_merchant" not in services.calls


def test_pay_an_order_in_kiswahili_without_a_description():
    phone, _ = with_order(description=None, language="sw")
    phone.send("5")
    assert phone.send(CODE) == (
        f"CON Lipa MAMA MBOGA KES 250 kwa oda {CODE}. Ada KES 0.\n"
        "Weka PIN kuthibitisha\n0. Rudi 00. Mwanzo"
    )
    assert phone.send("4821").startswith(f"END Umelipa KES 250 kwa MAMA MBOGA kwa oda {CODE}.")


@pytest.mark.parametrize("typed", [MISTYPED, "08291306", "12345678"])
def test_a_mistyped_order_code_re_prompts_without_a_lookup(typed):
    phone, _ = with_order()
    phone.send("5")
    assert phone.send(typed).startswith(
        "CON That order code is not right. Check it and retry.\nPay a merchant"
    )
    assert "quote_merchant_payment" not in phone.services.calls


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("paid", "That order is already paid."),
        ("expired", "That order has expired. Ask the merchant for a new one."),
        ("canceled", "That order was canceled."),
    ],
)
def test_an_order_that_cannot_be_paid_re_prompts_with_why(status, reason):
    phone, _ = with_order()
    phone.services.orders[CODE].status = status
    phone.send("5")
    assert phone.send(CODE).startswith(f"CON {reason}\nPay a merchant")


def test_an_unknown_order_re_prompts():
    phone, _ = jane_dialled()
    phone.send("5")
    assert phone.send(CODE).startswith("CON No order has that code.\nPay a merchant")


def test_an_order_above_the_balance_ends_with_nothing_paid():
    phone, _ = with_order(balance=100 * KES)
    phone.send("5")
    assert phone.send(CODE) == (
        "END Not paid. Balance too low: KES 100. With the fee this needs KES 250."
    )


def test_an_order_paid_by_somebody_else_before_the_pin_ends_with_nothing_paid():
    phone, jane = with_order()
    phone.send("5")
    phone.send(CODE)
    phone.services.orders[CODE].status = "paid"
    assert phone.send("4821") == "END Not paid. That order is already paid."
    assert phone.services.merchant_payments == [] and phone.services.balances[jane] == 1_000 * KES


def test_an_order_confirm_hop_repeated_pays_once():
    phone, _ = with_order()
    phone.send("5")
    phone.send(CODE)
    first = phone.send("4821")
    assert phone.hop() == first
    assert len(phone.services.merchant_payments) == 1


def test_a_wrong_pin_on_an_order_re_prompts_its_own_screen():
    phone, _ = with_order()
    phone.send("5")
    phone.send(CODE)
    assert phone.send("1111").startswith(
        "CON Wrong PIN. 2 attempt(s) left.\nPay MAMA MBOGA KES 250 for"
    )
