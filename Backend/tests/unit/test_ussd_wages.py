"""My account > Pay worker and My pay over USSD, with fake services: the employer picks
a worker, sees net pay, the deductions and the cost, pays with the PIN; the worker
reads the payslips. Putting a worker's pay on a schedule and changing a worker's pay:
test_ussd_wage_terms.py."""

from __future__ import annotations

from datetime import UTC, datetime

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

    assert phone.send("9") == ("CON Your workers\n1. Achieng\n9. Add worker\n0. Back 00. Home")
    assert phone.send("1") == (
        "CON Achieng: KES 16,113.75 a month gross\n1. Pay now\n2. Pay monthly on a day\n"
        "3. Change pay\n4. Change name or deductions\n0. Back 00. Home"
    )
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
    phone.send("1")
    phone.send("4821")
    services.pay_queued()
    today = next(iter(services._wages()["runs"].values()))[0].pay_date.strftime("%d/%m/%y")
    assert at_account(services, ACHIENG).send("8") == (
        f"END Mshahara wangu\n{today} Net 14,462 WAGE000001"
    )


def test_someone_who_employs_no_one_adds_a_worker_and_then_pays_them():
    services = FakeUssdServices()
    jane = services.add_user(PHONE, "Jane Wanjiku", "4821")
    services.add_user(ACHIENG, "Achieng Odhiambo", "5937", "sw")
    phone = at_account(services)
    assert phone.send("9") == (
        "CON Add a worker\nEnter the worker's phone number\n0. Back 00. Home"
    )
    assert phone.send(PHONE).startswith("CON You cannot employ yourself.")
    assert phone.send("0711000002").startswith("CON Enter the worker's name")
    assert phone.send("W" * 31).startswith("CON Use 1 to 30 plain letters.")
    assert phone.send("Achieng") == (
        "CON Gross pay of Achieng each time, in KES (before deductions)\n0. Back 00. Home"
    )
    assert phone.send("12.50").startswith("CON ")  # not whole: re-prompted
    assert phone.send("16,114") == (
        "CON Achieng: KES 16,114 gross. Paid how often?\n1. Monthly\n2. Weekly\n3. Daily"
        "\n0. Back 00. Home"
    )
    assert phone.send("1") == (
        "CON Achieng: KES 16,114 a month gross. Deductions?\n"
        "1. All (NSSF, SHIF, Housing levy, PAYE)\n2. Choose\n0. Back 00. Home"
    )
    assert phone.send("1") == (
        "CON Add Achieng +2547****0002: KES 16,114 a month gross. Deducted: NSSF, SHIF, "
        "Housing levy, PAYE.\n1. Add\n0. Back 00. Home"
    )
    assert phone.send("1") == (
        "END Achieng added: KES 16,114 a month. Pay them under My account > I employ someone."
    )
    (worker,) = services._wages()["workers"].values()
    assert (worker.employer_user_id, worker.gross_pay, worker.frequency, worker.deductions) == (
        jane.user_id, 1_611_400, "monthly", ("nssf", "shif", "ahl", "paye"))  # fmt: skip
    assert services.sms == []  # registered: no invitation

    again = at_account(services)
    again.send("9")
    again.send("1")
    assert again.send("1").startswith("CON Pay Achieng net KES")


def test_a_worker_not_on_paytrace_is_invited_and_a_second_add_is_refused():
    services, _ = household()
    phone = at_account(services)
    phone.send("9")
    phone.send("9")  # 9. Add worker
    phone.send("0722000333")
    phone.send("Baraka")
    phone.send("500")
    phone.send("3")  # daily
    phone.send("1")  # every item
    assert phone.send("1") == (
        "END Baraka added: KES 500 a day. We sent +2547****0333 an SMS to join PayTrace to be paid."
    )
    assert services.sms == [("+254722000333", "invite")]
    phone = at_account(services)
    for answer in ("9", "9", "0711000002", "Achieng", "16114", "1", "1"):
        phone.send(answer)
    assert phone.send("1") == ("END Worker not added. You already employ someone on that number.")


def test_my_pay_shows_the_next_pay_date_of_a_wage_schedule():
    services, jane = household()
    services.schedule_wage_pay(jane, 1, datetime(2027, 1, 31, 6, tzinfo=UTC))
    assert at_account(services, ACHIENG).send("8") == (
        "END Mshahara wangu\nMshahara ujao 31/01/27 kutoka Jane Wanjiku\n"
        "Hakuna mshahara uliopokelewa kupitia PayTrace bado."
    )


def test_too_little_money_pays_nothing_and_says_why():
    services, jane = household()
    services.balances[jane] = 1_000_000
    phone = at_account(services)
    phone.send("9")
    phone.send("1")
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
    assert "Wafanyakazi wako" in phone.send("7")
