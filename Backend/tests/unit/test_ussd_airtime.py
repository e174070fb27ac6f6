"""Buy airtime over USSD, hop by hop, with fake services, in both languages: my number
or another, the network read from the number, every reason to re-prompt, the PIN, and
a confirm hop that can never pay twice."""

from __future__ import annotations

from app.domain.money import format_kes
from tests.support import seeds
from tests.unit.fakes import FakeUssdServices
from tests.unit.ussd_harness import PHONE, make_phone

KES = 100
NAV, NAV_SW = "\n0. Back 00. Home", "\n0. Rudi 00. Mwanzo"
SAFARICOM = seeds.biller("airtime_safaricom")


def jane_dialled(balance: int = 1_000 * KES, language: str = "en"):
    """Jane (PIN 4821, a Safaricom number) has dialled and chosen Pay, then Bills /
    Airtime."""
    services = FakeUssdServices()
    jane = services.add_user(PHONE, "Jane Wanjiku", "4821", language)
    if balance:
        services.cash_in(PHONE, balance)
    phone = make_phone(services=services)
    phone.dial()
    phone.send("5")
    phone.send("1")
    return phone, jane.user_id


def test_airtime_for_another_number_walks_to_an_end_with_the_reference():
    phone, _ = jane_dialled()
    fee = seeds.fee(SAFARICOM.fee_kind, 100 * KES)
    assert phone.send("1") == "CON Buy airtime\n1. My number\n2. Another number" + NAV
    assert phone.send("2") == "CON Buy airtime\nEnter phone number" + NAV
    assert phone.send("0711000201") == (
        "CON Airtime Safaricom 0711 000 201\nEnter amount in KES" + NAV
    )
    assert phone.send("100") == (
        f"CON Airtime Safaricom 0711 000 201 KES 100 + fee KES {format_kes(fee)}\n"
        "Enter PIN to confirm\n9. Repeat monthly" + NAV
    )
    end = phone.send("4821")
    assert end == (
        "END Airtime Safaricom KES 100 for 0711 000 201 is on its way. Ref REF0000002. "
        f"New balance KES {format_kes(900 * KES - fee)}. An SMS will confirm."
    )
    assert phone.hop() == end  # AT repeats the hop: nothing is held twice
    [payment] = phone.services.bill_payments
    assert (payment.account, payment.amount, payment.channel) == ("+254711000201", 10_000, "ussd")


def test_my_number_needs_no_typing_and_the_network_is_the_number_s():
    phone, _ = jane_dialled()
    phone.send("1")
    assert phone.send("1").startswith("CON Airtime Safaricom 0712 345 678\nEnter amount")
    phone, _ = jane_dialled()
    phone.send("1")
    phone.send("2")
    assert phone.send("0733 123 456").startswith("CON Airtime Airtel 0733 123 456\n")


def test_a_number_that_is_not_a_kenyan_mobile_is_asked_again():
    phone, _ = jane_dialled()
    phone.send("1")
    phone.send("2")
    for wrong in ("12345", "+14155552671", "020 222 2222"):
        assert phone.send(wrong).startswith(
            "CON Enter a Kenyan mobile number, e.g. 0712345678.\nBuy airtime"
        )


def test_an_amount_outside_the_biller_s_range_or_the_balance_is_asked_again():
    phone, _ = jane_dialled(balance=50 * KES)
    phone.send("1")
    phone.send("1")
    low = format_kes(SAFARICOM.min_amount)
    high = format_kes(SAFARICOM.max_amount)
    below = str(SAFARICOM.min_amount // KES - 1)
    assert phone.send(below).startswith(f"CON Airtime is KES {low} to {high}.\n")
    assert phone.send("1.50").startswith("CON Whole shillings only")
    assert phone.send("100").startswith("CON Balance too low: KES 50.")
    assert phone.services.bill_payments == []


def test_a_wrong_pin_pays_nothing_and_says_how_many_tries_are_left():
    phone, _ = jane_dialled()
    phone.send("1")
    phone.send("1")
    phone.send("100")
    assert phone.send("9356").startswith("CON Wrong PIN. 2 attempt(s) left.")
    assert phone.services.bill_payments == []


def test_airtime_in_kiswahili():
    phone, _ = jane_dialled(language="sw")
    assert phone.send("1") == (
        "CON Nunua muda wa maongezi\n1. Nambari yangu\n2. Nambari nyingine" + NAV_SW
    )
    phone.send("1")
    assert phone.send("100").startswith("CON Airtime Safaricom 0712 345 678 KES 100 + ada KES")
    assert phone.send("4821").startswith("END Airtime Safaricom KES 100 kwa 0712 345 678 inatumwa.")
