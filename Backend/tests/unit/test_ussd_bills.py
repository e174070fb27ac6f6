"""Pay a bill over USSD, hop by hop, with fake services, in both languages: the billers
paged, the account checked and its holder named by the biller, every reason to
re-prompt, the PIN, a confirm hop that can never pay twice, and My recent tokens."""

from __future__ import annotations

from datetime import date

from app.domain.bills import AT_AIRTIME
from app.domain.money import format_kes
from app.domain.promotions import CashbackRule, CashbackTier
from app.services.bills.tokens import RECENT_TOKENS
from app.ussd.bills.flow import PER_SCREEN
from tests.support import seeds
from tests.unit.fakes import FakeUssdServices
from tests.unit.ussd_harness import PHONE, make_phone

KES = 100
NAV, NAV_SW = "\n0. Back 00. Home", "\n0. Rudi 00. Mwanzo"
KPLC = seeds.biller("kplc_prepaid")
METER = "12345678901"
BILLS = [b for b in seeds.billers() if b.category != "airtime"]


def jane_at_bills(balance: int = 2_000 * KES, language: str = "en", paybill_open: bool = True):
    """Jane (PIN 4821) has dialled and chosen Pay, then Bills / Airtime; KPLC knows her
    meter."""
    services = FakeUssdServices()
    if not paybill_open:
        services.open_rails = (AT_AIRTIME,)
    services.bill_holders = {(KPLC.paybill, METER): "JANE W."}
    jane = services.add_user(PHONE, "Jane Wanjiku", "4821", language)
    if balance:
        services.cash_in(PHONE, balance)
    phone = make_phone(services=services)
    phone.dial()
    phone.send("5")
    phone.send("1")
    return phone, jane.user_id


def test_kplc_prepaid_walks_to_an_end_with_the_holder_s_name_and_the_reference():
    phone, jane = jane_at_bills()
    assert phone.send("2").startswith("CON Pay a bill\n1. KPLC prepaid\n2. KPLC postpaid\n")
    assert phone.send("1") == "CON KPLC prepaid\nEnter meter number" + NAV
    assert phone.send("1234 5678 901") == (
        "CON KPLC prepaid 12345678901, JANE W.\nEnter amount in KES" + NAV
    )
    fee = seeds.fee(KPLC.fee_kind, 1_000 * KES)
    assert phone.send("1000") == (
        f"CON KPLC prepaid 12345678901, JANE W.\nKES 1,000 + fee {format_kes(fee)}\n"
        "Enter PIN\n9. Repeat monthly" + NAV
    )
    end = phone.send("4821")
    assert end == (
        "END KPLC prepaid KES 1,000 for meter 12345678901 is being paid. Ref REF0000002. "
        f"New balance KES {format_kes(1_000 * KES - fee)}. An SMS will confirm."
    )
    assert phone.hop() == end  # AT repeats the hop: nothing is held twice
    [payment] = phone.services.bill_payments
    assert (payment.biller_code, payment.account, payment.amount) == (KPLC.code, METER, 100_000)
    assert phone.services.balances[jane] == 1_000 * KES - fee


def test_the_confirmation_shows_the_cashback_a_rule_gives():
    phone, _ = jane_at_bills()
    phone.services.cashback_rules = (
        CashbackRule(1, KPLC.id, None, 200 * KES, date(2020, 1, 1), None,
                     (CashbackTier(1, KPLC.max_amount, 100),)),
    )  # fmt: skip
    phone.services.promotions = 1_000 * KES
    for value in ("2", "1", METER):
        phone.send(value)
    assert phone.send("1000").startswith(
        "CON KPLC prepaid 12345678901, JANE W.\nKES 1,000 + fee 0, cashback 10\n"
    )


def test_the_billers_are_paged_and_airtime_is_its_own_choice():
    phone, _ = jane_at_bills()
    first = phone.send("2")
    assert [b.name for b in BILLS[:PER_SCREEN]] == [
        line.split(". ", 1)[1] for line in first.splitlines()[1 : PER_SCREEN + 1]
    ]
    assert "Airtime" not in first
    if len(BILLS) > PER_SCREEN:
        assert "\n98. More\n" in first
        second = phone.send("98")
        assert second.startswith(f"CON Pay a bill\n1. {BILLS[PER_SCREEN].name}")
        assert len(second) <= 182
        assert phone.send("1") == f"CON {BILLS[PER_SCREEN].name}\nEnter account number" + NAV
    assert len(first) <= 182


def test_where_no_paybill_is_open_the_bills_say_so_and_airtime_still_sells():
    phone, _ = jane_at_bills(paybill_open=False)
    assert phone.send("2") == "END No bills can be paid here yet."
    phone, _ = jane_at_bills(paybill_open=False)
    assert phone.send("1") == "CON Buy airtime\n1. My number\n2. Another number" + NAV


def test_an_account_the_biller_does_not_know_or_cannot_be_is_asked_again():
    phone, _ = jane_at_bills()
    phone.send("2")
    phone.send("1")
    for wrong in ("123", "abcdefghijk", "98765432109"):
        assert phone.send(wrong) == (
            "CON Check the meter number: KPLC prepaid does not take it.\n"
            "KPLC prepaid\nEnter meter number" + NAV
        )
    assert phone.services.bill_payments == []


def test_an_amount_outside_the_biller_s_range_or_the_balance_is_asked_again():
    phone, _ = jane_at_bills(balance=500 * KES)
    phone.send("2")
    phone.send("1")
    phone.send(METER)
    low, high = format_kes(KPLC.min_amount), format_kes(KPLC.max_amount)
    below = str(KPLC.min_amount // KES - 1)
    assert phone.send(below).startswith(f"CON KPLC prepaid takes KES {low} to {high}.\n")
    assert phone.send("1.50").startswith("CON Whole shillings only")
    assert phone.send("1000").startswith("CON Balance too low: KES 500.")
    assert phone.services.bill_payments == []


def test_a_wrong_pin_pays_nothing_and_a_locked_pin_asks_nothing():
    phone, jane = jane_at_bills()
    phone.send("2")
    phone.send("1")
    phone.send(METER)
    phone.send("1000")
    assert phone.send("9356").startswith("CON Wrong PIN. 2 attempt(s) left.")
    assert phone.services.bill_payments == []
    phone, jane = jane_at_bills()
    phone.services.lock_for(jane, 601)
    assert phone.send("2").startswith("END Your PIN is locked until")


def test_my_recent_tokens_resends_the_last_five_once_per_hop():
    phone, _ = jane_at_bills(balance=10_000 * KES)
    services = phone.services
    assert phone.send("3") == "END You have no prepaid tokens yet."
    for n in range(RECENT_TOKENS + 1):
        phone.dial()
        for value in ("5", "1", "2", "1", METER, "100", "4821"):
            phone.send(value)
        services.deliver_bill(services.bill_payments[-1].reference, token=f"{n:020d}")
    services.sms.clear()
    phone.dial()
    phone.send("5")
    phone.send("1")
    end = phone.send("3")
    assert end == f"END Your last {RECENT_TOKENS} token(s) are coming by SMS."
    assert phone.hop() == end
    assert services.sms == [(PHONE, "bill_token")] * RECENT_TOKENS


def test_a_bill_in_kiswahili():
    phone, _ = jane_at_bills(language="sw")
    assert phone.send("2").startswith("CON Lipa bili\n1. KPLC prepaid\n")
    assert phone.send("1") == "CON KPLC prepaid\nWeka nambari ya mita" + NAV_SW
    phone.send(METER)
    assert phone.send("1000").startswith("CON KPLC prepaid 12345678901, JANE W.\nKES 1,000 + ada ")
    assert phone.send("4821").startswith(
        "END KPLC prepaid KES 1,000 kwa mita 12345678901 inalipwa."
    )
