"""My account > Scheduled payments over USSD, with fake services: list (paged), pick,
pause, resume or stop with the PIN."""

from __future__ import annotations

import pytest

from app.domain.gsm7 import is_gsm7
from tests.unit.fakes import FakeUssdServices
from tests.unit.ussd_harness import PHONE, make_phone

AMINA, BARAKA = "+254711000002", "+254711000003"


def jane(schedules: int = 1, language: str = "en"):
    """Jane (PIN 4821) with `schedules` monthly payments to Amina, at My account."""
    services = FakeUssdServices()
    jane = services.add_user(PHONE, "Jane Wanjiku", "4821", language)
    amina = services.add_user(AMINA, "Amina Wanjiru Otieno", "5937")
    for n in range(schedules):
        services.add_schedule(jane.user_id, amina.user_id, 1_500_00 + n * 100, day=31 - n)
    phone = make_phone(services=services)
    phone.dial()
    phone.send("6")
    return phone


def test_no_schedules_says_so_and_offers_a_new_one():
    assert jane(0).send("7") == "CON Scheduled payments\nNone yet.\n9. New\n0. Back 00. Home"


def test_the_list_shows_four_a_page_newest_first_and_98_shows_more():
    phone = jane(5)
    first = phone.send("7")
    assert first == (
        "CON Scheduled payments\n1. Amina O. 1,504 m27\n2. Amina O. 1,503 m28\n"
        "3. Amina O. 1,502 m29\n4. Amina O. 1,501 m30\n98. More\n9. New\n0. Back 00. Home"
    )
    assert phone.send("98") == (
        "CON Scheduled payments\n1. Amina O. 1,500 m31\n9. New\n0. Back 00. Home"
    )


def test_picking_one_shows_its_rule_and_next_date_then_pause_with_the_pin():
    phone = jane()
    phone.send("7")
    item = phone.send("1")
    assert item.startswith("CON KES 1,500 to Amina Wanjiru Otieno\nMonthly, day 31, 09:00\nNext ")
    assert item.endswith("\n1. Pause\n2. Resume\n3. Stop\n0. Back 00. Home")
    assert phone.send("1") == (
        "CON Pause KES 1,500 to Amina Wanjiru Otieno\nEnter PIN to confirm\n0. Back 00. Home"
    )
    assert phone.send("1111").startswith("CON Wrong PIN. 2 attempt(s) left.")
    assert phone.send("4821") == (
        "END Paused: KES 1,500 to Amina Wanjiru Otieno. Nothing is paid until you resume it."
    )
    (schedule,) = phone.services._schedules().values()
    assert schedule.status == "paused"


def test_a_paused_one_is_marked_and_resumed_with_its_next_date():
    phone = jane()
    schedule = next(iter(phone.services._schedules().values()))
    phone.services._schedules()[schedule.id] = type(schedule)(
        **{**{f: getattr(schedule, f) for f in schedule.__slots__}, "status": "paused"}
    )
    assert phone.send("7").splitlines()[1] == "1. Amina O. 1,500 m31 II"
    assert "\nPaused\n" in phone.send("1")
    phone.send("2")
    resumed = phone.send("4821")
    assert resumed.startswith("END Resumed: KES 1,500 to Amina Wanjiru Otieno. Next payment ")


def test_stop_then_it_is_gone_from_the_list():
    phone = jane()
    phone.send("7")
    phone.send("1")
    phone.send("3")
    assert phone.send("4821") == (
        "END Stopped: KES 1,500 to Amina Wanjiru Otieno. It will not be paid again."
    )
    phone.dial()
    phone.send("6")
    assert "None yet." in phone.send("7")


def test_one_stopped_meanwhile_ends_saying_nothing_changed():
    phone = jane()
    phone.send("7")
    phone.send("1")
    phone.send("2")  # resume
    schedule = next(iter(phone.services._schedules().values()))
    phone.services._schedules()[schedule.id] = type(schedule)(
        **{**{f: getattr(schedule, f) for f in schedule.__slots__}, "status": "stopped"}
    )
    assert phone.send("4821") == "END That scheduled payment has ended. Nothing was changed."


def test_a_wrong_choice_reprompts():
    phone = jane()
    phone.send("7")
    assert phone.send("5").startswith("CON ")
    assert "Scheduled payments" in phone.send("x")


@pytest.mark.parametrize("language", ["en", "sw"])
def test_a_full_page_of_the_longest_fits_a_handset(language):
    services = FakeUssdServices()
    jane = services.add_user(PHONE, "Jane Wanjiku", "4821", language)
    worst = services.add_user(BARAKA, "W" * 30 + " " + "W" * 29, "5937")
    for _ in range(5):
        services.add_schedule(jane.user_id, worst.user_id, 100_000_000, frequency="weekly", day=7)
    phone = make_phone(services=services)
    phone.dial()
    phone.send("6")
    for screen in (phone.send("7"), phone.send("1"), phone.send("1")):
        assert len(screen) <= 182 and is_gsm7(screen), screen


def test_a_new_monthly_rent_over_ussd():
    phone = jane(0)
    phone.send("7")
    assert phone.send("9") == (
        "CON New scheduled payment\nEnter the phone number to pay\n0. Back 00. Home"
    )
    assert phone.send("0722000333").startswith("CON That number is not on PayTrace.")
    assert phone.send(PHONE).startswith("CON You cannot send money to yourself.")
    assert phone.send("0711000002") == (
        "CON Pay Amina Wanjiru Otieno +2547****0002\nEnter the amount in KES, each time\n"
        "0. Back 00. Home"
    )
    assert phone.send("1,500") == (
        "CON KES 1,500 to Amina Wanjiru Otieno\n1. Every month\n2. Every week\n0. Back 00. Home"
    )
    assert phone.send("1").startswith("CON Day of the month, 1-31")
    assert phone.send("32").startswith("CON Enter a day from 1 to 31.")
    assert phone.send("31") == (
        "CON Send KES 1,500 to Amina Wanjiru Otieno: Monthly, day 31, 09:00, from today.\n"
        "Enter PIN to confirm\n0. Back 00. Home"
    )
    assert phone.send("1111").startswith("CON Wrong PIN. 2 attempt(s) left.")
    made = phone.send("4821")
    assert made.startswith(
        "END Scheduled: KES 1,500 to Amina Wanjiru Otieno, Monthly, day 31, 09:00. First payment "
    )
    (schedule,) = phone.services._schedules().values()
    assert (schedule.payee, schedule.amount, schedule.frequency, schedule.day) == (
        AMINA,
        1_500_00,
        "monthly",
        31,
    )


def test_a_new_weekly_payment_asks_the_weekday():
    phone = jane(0)
    phone.send("7")
    phone.send("9")
    phone.send("0711000002")
    phone.send("300")
    assert phone.send("2") == (
        "CON Day of the week:\n1 Mon 2 Tue 3 Wed 4 Thu 5 Fri 6 Sat 7 Sun\n0. Back 00. Home"
    )
    assert phone.send("8").startswith("CON Enter a day from 1 (Mon) to 7 (Sun).")
    assert "Every Fri, 09:00" in phone.send("5")
    assert phone.send("4821").startswith("END Scheduled: KES 300 to Amina Wanjiru Otieno")
