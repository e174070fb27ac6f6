"""'9. Repeat monthly' on the confirmations of Send money, Buy airtime and Pay a bill,
hop by hop with fake services, in both languages: paid now as the confirmation pays,
and the same payment scheduled monthly on today's day from tomorrow; once per hop,
never for a refused payment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.money import nairobi_day
from app.services.schedules.manage import MAX_LIVE
from app.ussd.repeat.flow import day_words, ordinal
from tests.support import seeds
from tests.unit.fakes import FakeUssdServices
from tests.unit.ussd_harness import PHONE, make_phone

AMINA = "+254711000002"
KES = 100
NAV, NAV_SW = "\n0. Back 00. Home", "\n0. Rudi 00. Mwanzo"
KPLC = seeds.biller("kplc_prepaid")
METER = "12345678901"


def today():
    return nairobi_day(datetime.now(UTC))


def jane(language: str = "en", balance: int = 1_000 * KES):
    services = FakeUssdServices()
    services.bill_holders = {(KPLC.paybill, METER): "JANE W."}
    me = services.add_user(PHONE, "Jane Wanjiku", "4821", language)
    services.add_user(AMINA, "Amina Otieno", "5937")
    if balance:
        services.cash_in(PHONE, balance)
    phone = make_phone(services=services)
    phone.dial()
    return phone, me.user_id


def at_send_repeat(language: str = "en", amount: str = "500", **kwargs):
    phone, me = jane(language, **kwargs)
    for value in ("1", "0711000002", amount):
        phone.send(value)
    return phone, me


def live(services: FakeUssdServices, owner: int):
    return asyncio.run(services.schedules(owner_user_id=owner, limit=MAX_LIVE))[0]


@pytest.mark.parametrize(
    ("day", "said"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"),
     (13, "13th"), (21, "21st"), (22, "22nd"), (23, "23rd"), (28, "28th"), (31, "31st")],
)  # fmt: skip
def test_the_day_is_said_as_people_say_it(day, said):
    assert ordinal(day) == said


def test_a_day_some_months_lack_says_it_moves_to_the_month_s_end():
    assert day_words("en", 28) == "the 28th"
    assert day_words("en", 29) == "the 29th (or month end)"
    assert day_words("sw", 4) == "tarehe 4"
    assert day_words("sw", 31) == "tarehe 31 (au mwisho wa mwezi)"


def test_send_money_repeated_monthly_sends_now_and_schedules_the_same_transfer():
    phone, me = at_send_repeat()
    on = day_words("en", today().day)
    assert phone.send("9") == (
        f"CON Send KES 500 to Amina Otieno +2547****0002 now and every month on {on}?\n"
        "Enter PIN" + NAV
    )
    end = phone.send("4821")
    assert end == (
        "END Sent KES 500 to Amina Otieno +2547****0002. Ref REF0000002. "
        f"Repeats monthly on {on}. Manage: My account > Scheduled payments."
    )
    services = phone.services
    assert services.transfers == [(me, me + 1, 500 * KES, 5 * KES)]
    [made] = live(services, me)
    assert (made.kind, made.payee, made.amount, made.frequency, made.day) == (
        "transfer", AMINA, 500 * KES, "monthly", today().day,
    )  # fmt: skip
    assert made.start_date == today() + timedelta(days=1)
    # Not paid again today: the first repeat is next month's.
    assert nairobi_day(made.next_due_at) > today() + timedelta(days=27)
    assert made.at_time.hour == 9


def test_send_money_repeated_monthly_in_kiswahili():
    phone, me = at_send_repeat("sw")
    on = day_words("sw", today().day)
    assert phone.send("9") == (
        f"CON Tuma KES 500 kwa Amina Otieno +2547****0002 sasa na kila {on}?\nWeka PIN" + NAV_SW
    )
    assert phone.send("4821") == (
        "END Umetuma KES 500 kwa Amina Otieno +2547****0002. Kumb. REF0000002. "
        f"Itarudiwa kila {on}. Dhibiti: Akaunti yangu > Malipo ya ratiba."
    )
    assert len(live(phone.services, me)) == 1


def test_a_repeated_hop_sends_once_and_schedules_once_even_without_its_stored_answer():
    phone, me = at_send_repeat()
    phone.send("9")
    redis, key = phone.store._redis, phone.session_key
    before = asyncio.run(redis.get(key))
    first = phone.send("4821")
    assert phone.hop() == first  # AT repeats the hop: the stored answer
    asyncio.run(redis.set(key, before))  # the answer was never stored: run again
    assert phone.hop() == first
    services = phone.services
    assert services.calls.count("repeat_payment") == 2
    assert len(services.transfers) == 1
    assert len(live(services, me)) == 1


def test_a_wrong_pin_on_the_repeat_screen_sends_nothing_and_schedules_nothing():
    phone, me = at_send_repeat()
    phone.send("9")
    assert phone.send("1111").startswith(
        "CON Wrong PIN. 2 attempt(s) left.\nSend KES 500 to Amina Otieno"
    )
    assert phone.send("12").startswith("CON PIN must be 4 digits.")
    assert phone.services.transfers == [] and live(phone.services, me) == []
    assert phone.send("4821").startswith("END Sent KES 500")
    assert len(live(phone.services, me)) == 1


def test_a_transfer_refused_at_the_pin_hop_schedules_nothing():
    phone, me = at_send_repeat(amount="900")
    phone.send("9")
    phone.services.balances[me] = 100 * KES  # spent elsewhere meanwhile
    assert phone.send("4821").startswith("END Not sent. Balance too low: KES 100.")
    assert phone.services.transfers == [] and live(phone.services, me) == []
    assert "repeat_payment" not in phone.services.calls


def test_back_from_the_repeat_screen_confirms_once_without_repeating():
    phone, me = at_send_repeat()
    phone.send("9")
    assert phone.send("0").startswith("CON Send KES 500 to Amina Otieno")
    assert phone.send("4821").startswith("END Sent KES 500 to Amina Otieno +2547****0002. Fee")
    assert live(phone.services, me) == []


def test_a_payment_made_but_not_repeatable_says_it_was_sent_and_why_not_repeated():
    phone, me = at_send_repeat()
    for _ in range(MAX_LIVE):
        phone.services.add_schedule(me, me + 1, 100 * KES)
    phone.send("9")
    assert phone.send("4821") == (
        "END Sent KES 500 to Amina Otieno +2547****0002. Ref REF0000002. "
        "Not set to repeat: You have the most scheduled payments allowed."
    )
    assert len(phone.services.transfers) == 1
    assert len(live(phone.services, me)) == MAX_LIVE


def test_airtime_repeated_monthly_buys_now_and_schedules_the_same_top_up():
    phone, me = jane()
    for value in ("5", "1", "1", "1", "100"):
        phone.send(value)
    on = day_words("en", today().day)
    assert phone.send("9") == (
        f"CON Airtime Safaricom 0712 345 678 KES 100 now and every month on {on}?\nEnter PIN" + NAV
    )
    end = phone.send("4821")
    assert end.startswith(
        "END Airtime Safaricom KES 100 for 0712 345 678 is on its way. Ref REF0000002. "
        f"Repeats monthly on {on}."
    )
    assert phone.hop() == end
    [paid] = phone.services.bill_payments
    [made] = live(phone.services, me)
    assert (made.kind, made.payee, made.payee_name, made.amount, made.day) == (
        "airtime", f"airtime_safaricom:{PHONE}", "Airtime Safaricom 0712 345 678",
        paid.amount, today().day,
    )  # fmt: skip


def test_a_bill_repeated_monthly_in_kiswahili_pays_now_and_schedules_the_same_bill():
    phone, me = jane("sw", balance=2_000 * KES)
    for value in ("5", "1", "2", "1", METER, "1000"):
        phone.send(value)
    on = day_words("sw", today().day)
    assert phone.send("9") == (
        f"CON KPLC prepaid {METER}, JANE W. KES 1,000 sasa na kila {on}?\nWeka PIN" + NAV_SW
    )
    assert phone.send("4821") == (
        f"END KPLC prepaid KES 1,000 kwa {METER} inalipwa. Kumb. REF0000002. "
        f"Itarudiwa kila {on}. Dhibiti: Akaunti yangu > Malipo ya ratiba."
    )
    [made] = live(phone.services, me)
    assert (made.kind, made.payee, made.amount) == ("bill", f"kplc_prepaid:{METER}", 1_000 * KES)


def test_a_bill_refused_at_the_pin_hop_schedules_nothing():
    phone, me = jane(balance=2_000 * KES)
    for value in ("5", "1", "2", "1", METER, "1000", "9"):
        phone.send(value)
    phone.send("1111")
    phone.send("2222")
    assert phone.send("3333").startswith("END Wrong PIN 3 times.")
    assert phone.services.bill_payments == [] and live(phone.services, me) == []
