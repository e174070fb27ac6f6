"""The web phone in a real browser: two phones side by side register over USSD (the
page posts to /ussd exactly as AT does), each receives its welcome SMS from the AT
sandbox, and one sends money to the other. A screenshot of each step is kept."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from app.worker.outbox import build_worker
from tests.support.mpesa import mpesa_rig, rows
from tests.support.wallets import fund, phone_of, registration_secrets
from tests.support.wallets import register as register_user

JANE, AMINA = phone_of(1), phone_of(2)
KES = 100  # cents


def phone(page, number: str):
    return page.locator(f"section.phone[data-phone='{number}']")


def screen_of(page, number: str) -> str:
    page.wait_for_selector(f"section.phone[data-phone='{number}']:not([data-busy])")
    return phone(page, number).locator("[data-role=screen]").inner_text()


def answer(page, number: str, value: str) -> str:
    handset = phone(page, number)
    handset.locator("[data-role=input]").fill(value)
    handset.locator("[data-role=send]").click()
    return screen_of(page, number)


def dial(page, number: str) -> str:
    phone(page, number).locator("[data-role=dial]").click()
    return screen_of(page, number)


def register(page, number: str, name: str, pin: str) -> str:
    assert dial(page, number).startswith("CON Welcome to PayTrace")
    for value in ("1", name, pin, pin, "1"):
        answer(page, number, value)
    return answer(page, number, "1")


def deliver_sms(settings, database) -> None:
    worker = build_worker(settings, database)
    while worker.run_once():
        pass


def inbox_has(page, number: str, text: str) -> None:
    phone(page, number).locator(".inbox li", has_text=text).first.wait_for()


@pytest.fixture
def web_phone(page, live_server):
    page.goto(f"{live_server.url}/sandbox/phone?phones={quote(JANE)},{quote(AMINA)}")
    page.wait_for_selector("body[data-ready=yes]")
    return page


def test_two_phones_register_and_one_sends_money_to_the_other(web_phone, live_settings, database):
    page = web_phone
    assert page.locator("section.phone").count() == 2
    done = register(page, JANE, "Jane Wanjiku", "4821")
    assert done.startswith("END Welcome Jane! Your PayTrace ID is PT"), done
    assert phone(page, JANE).get_attribute("data-state") == "ended"
    budget = phone(page, JANE).locator("[data-role=budget]").inner_text()
    assert budget == f"{len(done)}/182 characters"
    assert register(page, AMINA, "Amina Otieno", "5937").startswith("END Welcome Amina!")
    deliver_sms(live_settings, database)
    inbox_has(page, JANE, "Welcome to PayTrace, Jane!")
    inbox_has(page, AMINA, "Welcome to PayTrace, Amina!")
    page.shot("registered")

    fund(database, JANE, 1_000 * KES)
    assert dial(page, JANE).startswith("CON PayTrace - Hi Jane\n1. Send money")
    answer(page, JANE, "1")
    assert answer(page, JANE, "0711000002").startswith("CON Send to Amina Otieno")
    assert answer(page, JANE, "250").startswith("CON Send KES 250 to Amina Otieno")
    sent = answer(page, JANE, "4821")
    assert re.match(r"^END Sent KES 250 to Amina Otieno .* Ref [A-Z2-9]{10}\.", sent), sent
    deliver_sms(live_settings, database)
    inbox_has(page, AMINA, "You have received KES 250 from Jane")
    inbox_has(page, JANE, "KES 250 sent to Amina")
    page.shot("sent")


def test_a_network_drop_ends_the_session_and_the_next_dial_is_a_new_one(web_phone):
    page = web_phone
    assert dial(page, JANE).startswith("CON Welcome to PayTrace")
    assert answer(page, JANE, "1").startswith("CON ")  # asked for a name
    phone(page, JANE).locator("[data-role=drop]").click()
    assert phone(page, JANE).get_attribute("data-state") == "dropped"
    assert "Connection problem" in screen_of(page, JANE)
    page.shot("dropped")
    # A new dial starts from the first screen: a new sessionId, an empty text.
    assert dial(page, JANE).startswith("CON Welcome to PayTrace")


@pytest.fixture
def rig(live_settings, database, tmp_path):
    """PayTrace pointed at a local Daraja sandbox of its own (tests/support/mpesa.py)."""
    with mpesa_rig(live_settings, database, tmp_path) as rig:
        box, pin_hash = registration_secrets(rig.settings, "4821")
        register_user(database, box, pin_hash, phone=JANE, name="Jane Wanjiku")
        yield rig


def deposit(page, amount: str) -> str:
    assert dial(page, JANE).startswith("CON PayTrace - Hi Jane")
    assert answer(page, JANE, "2").startswith("CON Deposit from M-Pesa")
    return answer(page, JANE, amount)


def test_a_phone_cancels_then_accepts_the_m_pesa_prompt(page, rig):
    page.goto(f"{rig.paytrace.url}/sandbox/phone?phones={quote(JANE)}")
    page.wait_for_selector("body[data-ready=yes]")
    handset = phone(page, JANE)

    handset.locator("[data-role=mpesa]").select_option("cancel")
    page.wait_for_selector(f"section.phone[data-phone='{JANE}'][data-mpesa=cancel]")
    assert deposit(page, "500").startswith("END Check your phone")
    rig.until(lambda: rig.deposit_statuses() == ["failed"])
    rig.sms(JANE)  # the worker sends what is queued
    inbox_has(page, JANE, "the M-Pesa prompt was cancelled")
    page.shot("mpesa-cancelled")

    handset.locator("[data-role=mpesa]").select_option("accept")
    page.wait_for_selector(f"section.phone[data-phone='{JANE}'][data-mpesa=accept]")
    assert deposit(page, "1000").startswith("END Check your phone")
    rig.until(lambda: rig.deposit_statuses() == ["failed", "completed"])
    rig.sms(JANE)
    inbox_has(page, JANE, "KES 1,000")
    page.shot("mpesa-accepted")


def prompt_pops(page, rig, number: str):
    """The phone's M-Pesa prompt, once the worker has sent the push and the page has
    polled the sandbox for it."""
    prompt = phone(page, number).locator("[data-role=stk]")
    rig.until(prompt.is_visible)
    return prompt


def test_the_m_pesa_prompt_pops_up_when_the_push_arrives_and_is_answered_on_the_phone(page, rig):
    page.goto(f"{rig.paytrace.url}/sandbox/phone?phones={quote(JANE)}")
    page.wait_for_selector("body[data-ready=yes]")
    handset = phone(page, JANE)
    handset.locator("[data-role=mpesa]").select_option("ask")
    page.wait_for_selector(f"section.phone[data-phone='{JANE}'][data-mpesa=ask]")

    assert deposit(page, "500").startswith("END Check your phone")
    prompt = prompt_pops(page, rig, JANE)
    text = prompt.locator("[data-role=stk-text]").inner_text()
    assert text.startswith("Do you want to pay KES 500 to PAYTRACE SANDBOX"), text
    assert text.endswith("Enter M-PESA PIN:"), text
    assert rig.deposit_statuses() == ["pending"]  # nothing decided while the prompt waits
    page.shot("mpesa-prompt")
    prompt.locator("[data-role=stk-pin]").fill("1234")
    prompt.locator("[data-role=stk-send]").click()
    page.wait_for_selector(f"section.phone[data-phone='{JANE}'][data-prompt=success]")
    assert not prompt.is_visible()
    rig.until(lambda: rig.deposit_statuses() == ["completed"])
    rig.sms(JANE)
    inbox_has(page, JANE, "KES 500")
    page.shot("mpesa-prompt-accepted")

    assert deposit(page, "200").startswith("END Check your phone")
    prompt = prompt_pops(page, rig, JANE)
    assert "pay KES 200 to" in prompt.locator("[data-role=stk-text]").inner_text()
    prompt.locator("[data-role=stk-cancel]").click()
    page.wait_for_selector(f"section.phone[data-phone='{JANE}'][data-prompt=cancelled]")
    rig.until(lambda: rig.deposit_statuses() == ["completed", "failed"])
    rig.sms(JANE)
    inbox_has(page, JANE, "the M-Pesa prompt was cancelled")


def test_an_m_pesa_prompt_nobody_answers_times_out_and_leaves_the_screen(
    page, live_settings, database, tmp_path
):
    with mpesa_rig(live_settings, database, tmp_path, {"prompt_timeout_s": 2.0}) as rig:
        box, pin_hash = registration_secrets(rig.settings, "4821")
        register_user(database, box, pin_hash, phone=JANE, name="Jane Wanjiku")
        page.goto(f"{rig.paytrace.url}/sandbox/phone?phones={quote(JANE)}")
        page.wait_for_selector("body[data-ready=yes]")
        phone(page, JANE).locator("[data-role=mpesa]").select_option("ask")
        page.wait_for_selector(f"section.phone[data-phone='{JANE}'][data-mpesa=ask]")
        assert deposit(page, "300").startswith("END Check your phone")
        prompt = prompt_pops(page, rig, JANE)
        page.wait_for_selector(f"section.phone[data-phone='{JANE}'][data-prompt=gone]")
        assert not prompt.is_visible()
        rig.until(lambda: rig.deposit_statuses() == ["failed"])
        assert rows(database, "SELECT result_code FROM mpesa_deposits") == [("1037",)]
