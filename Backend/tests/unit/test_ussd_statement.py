"""My account's balance and mini statement over USSD, with fake services."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.pin import lock_end_text
from app.ussd.statement_flow import short_name, statement_line
from tests.unit.fakes import FakeUssdServices, ledger_line
from tests.unit.ussd_harness import PHONE, make_phone

AMINA = "+254711000002"


def jane(movements: int = 0, language: str = "en"):
    """Jane (PIN 4821) is registered with `movements` lines on her statement, at main menu."""
    services = FakeUssdServices()
    services.add_user(PHONE, "Jane Wanjiku", "4821", language)
    for n in range(movements):
        if n % 3 == 0:
            services.cash_in(PHONE, (n + 1) * 100_00)
        elif n % 3 == 1:
            services.record(PHONE, "transfer", -(n * 100_00 + 5_00), "Amina Wanjiru Otieno")
        else:
            services.record(PHONE, "reversal", n * 100_00 + 5_00)
    phone = make_phone(services=services)
    phone.dial()
    return phone


def test_my_account_lists_balance_and_mini_statement_first():
    phone = jane()
    assert phone.send("6") == (
        "CON My account\n1. Balance\n2. Mini statement\n3. My details\n"
        "4. My Stellar address\n5. Change PIN\n6. Language\n7. Scheduled payments\n"
        "8. My pay\n9. I employ someone\n0. Back 00. Home"
    )


def test_balance_asks_for_the_pin_and_ends_with_the_balance():
    phone = jane()
    phone.services.cash_in(PHONE, 1_234_50)
    phone.send("6")
    assert phone.send("1") == "CON Enter PIN to see your balance\n0. Back 00. Home"
    assert phone.send("4821") == "END Your PayTrace balance is KES 1,234.50."


def test_balance_with_a_wrong_pin_reprompts_and_shows_nothing():
    phone = jane()
    phone.send("6")
    phone.send("1")
    assert phone.send("1111") == (
        "CON Wrong PIN. 2 attempt(s) left.\nEnter PIN to see your balance\n0. Back 00. Home"
    )
    assert phone.send("abcd").startswith("CON PIN must be 4 digits.")


def test_balance_with_a_locked_pin_ends_with_the_lock_end():
    phone = jane()
    until = phone.services.lock_for(1, 90)
    phone.send("6")
    phone.send("1")
    end = lock_end_text(until, datetime.now(UTC))
    assert phone.send("4821").startswith(f"END Your PIN is locked until {end}.")


def test_mini_statement_shows_three_movements_a_screen_and_98_pages_through_nine():
    phone = jane(movements=10)
    phone.send("6")
    assert phone.send("2") == "CON Enter PIN to see your mini statement\n0. Back 00. Home"
    first = phone.send("4821")
    pages = [first, phone.send("98"), phone.send("98")]
    for number, page in enumerate(pages, 1):
        lines = page.split("\n")
        assert lines[0] == f"CON Mini statement {number}/3"
        assert len(lines[1:4]) == 3 and all(line[:5].count("/") == 1 for line in lines[1:4])
    assert pages[0].endswith("\n98. More\n0. Back 00. Home")
    assert pages[2].endswith("\n14/03 Amina O. -105 REF0000002\n0. Back 00. Home")
    assert "REF0000001" not in "".join(pages)  # the tenth, oldest movement is left out
    assert phone.send("98") == first  # past the last page it starts again
    assert phone.services.calls.count("mini_statement") == 1  # paging is Redis only


def test_statement_lines_show_date_counterparty_signed_amount_and_reference():
    phone = jane(movements=3)
    phone.send("6")
    phone.send("2")
    assert phone.send("4821") == (
        "CON Mini statement 1/1\n"
        "15/03 Reversal +205 REF0000003\n"
        "14/03 Amina O. -105 REF0000002\n"
        "14/03 Cash in +100 REF0000001\n"
        "0. Back 00. Home"
    )


def test_statement_in_kiswahili():
    phone = jane(movements=1, language="sw")
    phone.send("6")
    phone.send("2")
    assert phone.send("4821").startswith("CON Taarifa fupi 1/1\n14/03 Kuweka +100 REF0000001")


def test_empty_statement_says_no_transactions_yet():
    phone = jane()
    phone.send("6")
    phone.send("2")
    assert phone.send("4821") == "CON Mini statement\nNo transactions yet.\n0. Back 00. Home"


def test_back_from_the_statement_is_my_account_and_home_is_home():
    phone = jane(movements=4)
    phone.send("6")
    phone.send("2")
    phone.send("4821")
    phone.send("98")
    assert phone.send("0").startswith("CON My account\n1. Balance")
    phone.send("2")
    phone.send("4821")
    assert phone.send("00").startswith("CON PayTrace - Hi Jane")


def test_anything_but_98_0_or_00_on_the_statement_says_invalid_choice():
    phone = jane(movements=1)
    phone.send("6")
    phone.send("2")
    phone.send("4821")
    assert phone.send("5").startswith("CON Invalid choice.\nMini statement 1/1")


def test_wrong_pin_for_the_statement_counts_towards_the_lock():
    phone = jane(movements=1)
    phone.send("6")
    phone.send("2")
    assert phone.send("1111").startswith("CON Wrong PIN. 2 attempt(s) left.")
    assert phone.send("2222").startswith("CON Wrong PIN. 1 attempt(s) left.")
    assert phone.send("3333").startswith("END Wrong PIN 3 times.")


def test_statement_date_is_the_day_in_nairobi():
    late = ledger_line(datetime(2026, 12, 31, 22, 0, tzinfo=UTC), "transfer", 500, "R", "Amina")
    assert statement_line(late)["day"] == "01/01"


def test_short_names_fit_ten_characters():
    assert short_name("Amina Wanjiru Otieno") == "Amina O."
    assert short_name("Bartholomew Kiprotich") == "Barthol K."
    assert short_name("Zawadi") == "Zawadi"
    assert len(short_name("W" * 30 + " " + "W" * 29)) <= 10
