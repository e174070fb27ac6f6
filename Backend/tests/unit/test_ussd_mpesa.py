"""Deposit and Withdraw over USSD, hop by hop, with fake services: what each screen
says, every reason to re-prompt, the PIN, and hops that can never ask M-Pesa twice."""

from __future__ import annotations

from tests.unit.fakes import FakeUssdServices
from tests.unit.ussd_harness import PHONE, make_phone

KES = 100  # cents


def jane(balance: int = 1_000 * KES, language: str = "en"):
    """Jane (PIN 4821, KES 1,000 by default) has dialled."""
    services = FakeUssdServices()
    user = services.add_user(PHONE, "Jane Wanjiku", "4821", language)
    if balance:
        services.cash_in(PHONE, balance)
    phone = make_phone(services=services)
    phone.dial()
    return phone, services, user.user_id


# ---- deposit ---------------------------------------------------------------------------


def test_deposit_asks_the_amount_then_ends_telling_to_check_the_phone():
    phone, services, user_id = jane()
    assert phone.send("2") == (
        "CON Deposit from M-Pesa +2547****5678\nEnter amount in KES\n0. Back 00. Home"
    )
    assert phone.send("1,500") == (
        "END Check your phone: enter your M-Pesa PIN to deposit KES 1,500. "
        "We will send you an SMS when it arrives."
    )
    assert services.deposits == [(user_id, 1_500 * KES)]


def test_deposit_in_kiswahili():
    phone, _, _ = jane(language="sw")
    assert phone.send("2").startswith("CON Weka pesa kutoka M-Pesa +2547****5678")
    assert phone.send("200").startswith("END Angalia simu yako: weka PIN yako ya M-Pesa")


def test_deposit_amounts_m_pesa_cannot_take_reprompt_and_ask_nothing():
    phone, services, _ = jane()
    phone.send("2")
    assert phone.send("12.50").startswith("CON Whole shillings only, no cents.")
    assert phone.send("abc").startswith("CON Enter the amount in digits")
    assert phone.send("0").startswith("CON PayTrace - Hi Jane")  # 0 is Back
    phone.send("2")
    assert phone.send("250001").startswith("CON M-Pesa takes at most KES 250,000 at a time.")
    assert services.deposits == []


def test_deposit_hop_repeated_by_the_gateway_asks_m_pesa_once():
    phone, services, _ = jane()
    phone.send("2")
    end = phone.send("500")
    assert phone.hop() == end  # AT posts the same hop again
    assert len(services.deposits) == 1


def test_deposit_when_m_pesa_is_off_apologises():
    phone, services, _ = jane()
    services.mpesa_on = False
    phone.send("2")
    assert phone.send("500").startswith("END Sorry, M-Pesa deposits and withdrawals are not")


# ---- withdraw --------------------------------------------------------------------------


def at_confirm(amount: str = "500", **kwargs):
    phone, services, user_id = jane(**kwargs)
    phone.send("3")
    return phone, services, user_id, phone.send(amount)


def test_withdraw_asks_the_amount_for_the_callers_own_m_pesa():
    phone, _, _ = jane()
    assert phone.send("3") == (
        "CON Withdraw to M-Pesa +2547****5678\nEnter amount in KES\n0. Back 00. Home"
    )


def test_withdraw_shows_the_fee_then_holds_and_ends_with_reference_and_balance():
    phone, services, user_id, confirm = at_confirm("500")
    assert confirm == (
        "CON Withdraw KES 500 to M-Pesa +2547****5678? Fee KES 15. Total KES 515.\n"
        "Enter PIN to confirm\n0. Back 00. Home"
    )
    end = phone.send("4821")
    assert end.startswith("END KES 500 is on its way to your M-Pesa. Fee KES 15. Ref REF")
    assert end.endswith("New balance KES 485. We will send you an SMS.")
    assert services.withdrawals == [(user_id, 500 * KES, 15 * KES)]
    assert services.balances[user_id] == 485 * KES


def test_withdraw_confirm_hop_repeated_holds_once():
    phone, services, _, _ = at_confirm("500")
    end = phone.send("4821")
    assert phone.hop() == end
    assert len(services.withdrawals) == 1


def test_withdraw_reasons_to_reprompt():
    phone, services, _ = jane(balance=100 * KES)
    phone.send("3")
    assert phone.send("5").startswith("CON The smallest withdrawal is KES 10.")
    assert phone.send("100").startswith(
        "CON Balance too low: KES 100. With the fee this needs KES 105."
    )
    assert phone.send("300000").startswith("CON M-Pesa takes at most KES 250,000")
    assert phone.send("12.5").startswith("CON Whole shillings only")
    assert services.withdrawals == []


def test_withdraw_above_the_tier_limit_says_the_limit():
    phone, _, _ = jane(balance=200_000 * KES)
    phone.send("3")
    assert phone.send("75000").startswith("CON Above your limit of KES 70,000 per transaction.")


def test_withdraw_wrong_pin_reprompts_with_attempts_left_and_holds_nothing():
    phone, services, user_id, _ = at_confirm("500")
    assert phone.send("1111").startswith("CON Wrong PIN. 2 attempt(s) left.")
    assert services.withdrawals == []
    assert services.balances[user_id] == 1_000 * KES


def test_withdraw_with_a_locked_pin_ends_before_asking_anything():
    phone, services, user_id = jane()
    services.lock_for(user_id, 600)
    assert phone.send("3").startswith("END Your PIN is locked until ")


def test_withdraw_when_the_balance_changed_since_the_quote_holds_nothing():
    phone, services, user_id, _ = at_confirm("500")
    services.balances[user_id] = 100 * KES  # spent elsewhere meanwhile
    end = phone.send("4821")
    assert end.startswith("END Not withdrawn. Balance too low: KES 100.")
    assert services.withdrawals == []


def test_withdraw_in_kiswahili():
    phone, _, _, confirm = at_confirm("500", language="sw")
    assert confirm.startswith("CON Toa KES 500 kwenda M-Pesa +2547****5678? Ada KES 15.")
    assert phone.send("4821").startswith("END KES 500 zinatumwa kwa M-Pesa yako.")


def test_statement_names_m_pesa_movements_by_what_they_were():
    phone, services, _ = jane(balance=0)
    services.record(PHONE, "deposit", 800 * KES)
    services.record(PHONE, "withdrawal", -515 * KES)
    services.record(PHONE, "withdrawal_release", 515 * KES)
    phone.send("6")
    phone.send("2")
    statement = phone.send("4821")
    assert " Returned +515 " in statement
    assert " Withdrawal -515 " in statement
    assert " Deposit +800 " in statement
