"""My account > Pay worker and My pay over USSD, with fake services: the employer picks
a worker, sees net pay, the deductions and the cost, pays with the PIN; the worker
reads the payslips."""

from __future__ import annotations

from tests.unit.fakes import FakeUssdServices
from tests.unit.ussd_harness import PHONE, make_phone

ACHIENG, BARAKA = "+254711000002", "+254711000003"
MINIMUM_WAGE = 1_611_375


def at_account(services: FakeUssdServices, phone_number: str = PHONE):
    phone = make_phone(services=services, phone=phone_number)
    phone.dial()
    phone.send("6")
    return phone


def household(language: str = "en") -> tuple[FakeUssdServices, int]:
    """Jane (PIN 4821, KES 100,000) employs Achieng on the Nairobi minimum wage."""
    services = FakeUssdServices()
    jane = services.add_user(PHONE, "Jane Wanjiku", "4821", language)
    services.add_user(ACHIENG, "Achieng Odhiambo", "5937", "sw")
    services.cash_in(PHONE, 10_000_000)
    services.add_wage_worker(jane.user_id, ACHIENG, "Achieng", MINIMUM_WAGE)
    return services, jane.user_id


def test_an_employer_pays_a_worker_with_the_pin_and_the_worker_reads_the_payslip():
    services, jane = household()
    phone = at_account(services)

    assert phone.send("9") == "CON Pay which worker?\n1. Achieng\n0. Back 00. Home"
    assert phone.send("1") == (
        "CON Pay Achieng net KES 14,462\nNSSF 967 SHIF 443 AHL 242\n"
        "You pay KES 17,322. Enter PIN\n0. Back 00. Home"
    )
    assert phone.send("1111").startswith("CON Wrong PIN. 2 attempt(s) left.")
    assert phone.send("4821") == "END Paid: Achieng gets KES 14,462 and a payslip by SMS."
    assert services.balances[jane] == 10_000_000 - (MINIMUM_WAGE + 96_683 + 24_171)

    services.pay_queued()  # the worker pays the line
    assert services.balances[services.users[ACHIENG].user_id] == 1_446_208


def test_my_pay_lists_the_last_payslips_and_says_when_there_is_none():
    services, _ = household()
    assert at_account(services, ACHIENG).send("8") == (
        "END Mshahara wangu\nHakuna mshahara uliopokelewa kupitia PayTrace bado."
    )
    phone = at_account(services)
    phone.send("9")
    phone.send("1")
    phone.send("4821")
    services.pay_queued()
    today = next(iter(services._wages()["runs"].values()))[0].pay_date.strftime("%d/%m/%y")
    assert at_account(services, ACHIENG).send("8") == (
        f"END Mshahara wangu\n{today} Net 14,462 WAGE000001"
    )


def test_someone_who_employs_no_one_is_told_how_to_add_workers():
    services = FakeUssdServices()
    services.add_user(PHONE, "Jane Wanjiku", "4821")
    assert at_account(services).send("9") == (
        "END You have no workers yet. Add them in the PayTrace app, then pay them here."
    )


def test_too_little_money_pays_nothing_and_says_why():
    services, jane = household()
    services.balances[jane] = 1_000_000
    phone = at_account(services)
    phone.send("9")
    phone.send("1")
    assert phone.send("4821") == (
        "END Not paid. Balance too low: KES 10,000. With the fee this needs KES 17,322.29."
    )
    assert services.balances[jane] == 1_000_000


def test_a_choice_off_the_list_reprompts():
    services, _ = household("sw")
    phone = at_account(services)
    phone.send("9")
    assert phone.send("7").startswith("CON ")
    assert "Lipa mfanyakazi yupi?" in phone.send("7")
