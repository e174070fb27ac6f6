"""I employ someone > a worker > 2 Pay on a schedule and 3 Change pay over USSD, with
fake services: the day, the PIN, the END with the first date, the schedule listed under
Scheduled payments; the new gross pay and frequency behind the PIN, and a scheduled
worker keeping their frequency."""

from __future__ import annotations

from app.domain.records.schedules import Schedule
from app.ussd.schedules.flow import when_text
from tests.unit.fakes import FakeUssdServices
from tests.unit.test_ussd_wages import BARAKA, MINIMUM_WAGE, at_account, household
from tests.unit.ussd_harness import Phone

COST = MINIMUM_WAGE + 96_683 + 24_171  # gross and the employer's NSSF and levy


def at_worker(services: FakeUssdServices, pick: str = "1") -> tuple[Phone, str]:
    """The employer's phone at the picked worker's menu, and that menu."""
    phone = at_account(services)
    phone.send("9")
    return phone, phone.send(pick)


def only_schedule(services: FakeUssdServices) -> Schedule:
    (schedule,) = services._schedules().values()
    return schedule


def test_an_employer_puts_a_workers_pay_on_a_monthly_schedule_with_the_pin():
    services, jane = household()
    phone, _ = at_worker(services)
    assert phone.send("2") == (
        "CON Pay Achieng on a schedule\nDay of the month, 1-31 (31: the last day of each "
        "month)\n0. Back 00. Home"
    )
    assert phone.send("32").startswith("CON Enter a day from 1 to 31.\n")
    assert phone.send("31") == (
        "CON Pay Achieng KES 16,113.75 gross, Monthly, day 31, 09:00, from today.\n"
        "Enter PIN to confirm\n0. Back 00. Home"
    )
    assert phone.send("1111").startswith("CON Wrong PIN. 2 attempt(s) left.")
    assert services._schedules() == {}
    ended = phone.send("4821")
    made = only_schedule(services)
    assert ended == (
        f"END Scheduled: Achieng's pay, Monthly, day 31, 09:00. First {when_text(made.next_due_at)}"
        ". We SMS you the day before. See Scheduled payments."
    )
    assert (made.owner_user_id, made.kind, made.payee, made.amount, made.day, made.channel) == (
        jane, "wage", "1", COST, 31, "ussd")  # fmt: skip

    # Listed under Scheduled payments like any other, where it is paused or stopped.
    listed = at_account(services).send("7")
    assert listed.startswith("CON Scheduled payments\n1. ") and "Achieng" in listed


def test_a_weekly_worker_is_scheduled_on_a_weekday_and_a_daily_one_has_no_schedule():
    services, jane = household("sw")
    services.add_user(BARAKA, "Baraka Otieno", "5937")
    services.add_wage_worker(jane, BARAKA, "Baraka", 300_000, "weekly")
    services.add_wage_worker(jane, "+254711000004", "Kiprop", 50_000, "daily")
    weekly, menu = at_worker(services, "2")
    assert menu == (
        "CON Baraka: KES 3,000 kwa wiki\n1. Lipa sasa\n2. Lipa kila wiki siku fulani\n"
        "3. Badilisha mshahara\n4. Badilisha jina au makato\n0. Rudi 00. Mwanzo"
    )
    assert weekly.send("2") == (
        "CON Lipa Baraka kwa ratiba\nSiku ya wiki:\n1 Jtatu 2 Jnne 3 Jtano 4 Alh 5 Ijm "
        "6 Jmosi 7 Jpili\n0. Rudi 00. Mwanzo"
    )
    assert weekly.send("8").startswith("CON Weka siku kati ya 1 (Jtatu) na 7 (Jpili).\n")
    weekly.send("5")
    assert weekly.send("4821").startswith("END Imepangwa: mshahara wa Baraka, Kila ")
    assert only_schedule(services).frequency == "weekly"

    daily, menu = at_worker(services, "3")
    assert menu == (
        "CON Kiprop: KES 500 kwa siku\n1. Lipa sasa\n3. Badilisha mshahara\n"
        "4. Badilisha jina au makato\n0. Rudi 00. Mwanzo"
    )
    reprompted = daily.send("2")
    assert reprompted.startswith("CON ") and "Kiprop" in reprompted
    assert len(services._schedules()) == 1  # none for the daily worker


def test_an_employer_changes_a_workers_pay_and_frequency_with_the_pin():
    services, _ = household()
    phone, _ = at_worker(services)
    assert phone.send("3") == (
        "CON New gross pay of Achieng each time, in KES (now 16,113.75)\n0. Back 00. Home"
    )
    assert phone.send("12.50").startswith("CON ")  # not whole: re-prompted
    assert phone.send("20,000") == (
        "CON Achieng: KES 20,000 gross. Paid how often?\n1. Monthly\n2. Weekly\n3. Daily"
        "\n0. Back 00. Home"
    )
    assert phone.send("2") == (
        "CON Achieng: KES 20,000 a week gross from the next pay.\nEnter PIN to confirm"
        "\n0. Back 00. Home"
    )
    assert phone.send("1111").startswith("CON Wrong PIN. 2 attempt(s) left.")
    assert phone.send("4821") == (
        "END Changed: Achieng now gets KES 20,000 a week gross. The next pay uses it."
    )
    (worker,) = services._wages()["workers"].values()
    assert (worker.gross_pay, worker.frequency) == (2_000_000, "weekly")
    assert services.calls.count("edit_worker") == 2


def test_a_scheduled_worker_keeps_their_frequency_until_the_schedule_is_stopped():
    services, _ = household()
    phone, _ = at_worker(services)
    for answer in ("2", "15", "4821"):
        phone.send(answer)
    phone, _ = at_worker(services)
    for answer in ("3", "20000", "3"):  # daily
        phone.send(answer)
    assert phone.send("4821") == (
        "END Not changed. The worker is paid on a schedule: stop it under Scheduled payments "
        "to change how often."
    )
    (worker,) = services._wages()["workers"].values()
    assert (worker.gross_pay, worker.frequency) == (MINIMUM_WAGE, "monthly")
    same, _ = at_worker(services)
    for answer in ("3", "20000", "1"):  # monthly: the schedule's own
        same.send(answer)
    assert same.send("4821").startswith("END Changed: Achieng now gets KES 20,000 a month")


def test_a_worker_removed_meanwhile_is_not_scheduled():
    services, _ = household()
    phone, _ = at_worker(services)
    phone.send("2")
    phone.send("31")
    services._wages()["workers"].clear()
    assert phone.send("4821") == (
        "END Achieng cannot be paid now. Check the worker in the PayTrace app."
    )
    assert services._schedules() == {}
