"""The USSD state machine, hop by hop, with fake services."""

from __future__ import annotations

from tests.unit.fakes import FakeUssdServices, fake_hash
from tests.unit.ussd_harness import PHONE, make_phone


def registered_caller():
    """Jane (PIN 4821) is registered and has just dialled: the main menu is showing."""
    services = FakeUssdServices()
    services.add_user(PHONE, "Jane Wanjiku", "4821")
    phone = make_phone(services=services)
    phone.dial()
    return phone


def register(phone, name="Jane Wanjiku", pin="4821", language="1"):
    phone.dial()
    phone.send("1")
    phone.send(name)
    phone.send(pin)
    phone.send(pin)
    phone.send(language)
    return phone.send("1")


def test_unregistered_caller_sees_register_and_about():
    screen = make_phone().dial()
    assert screen == "CON Welcome to PayTrace\n1. Register\n2. About"


def test_registration_walk_creates_the_user_and_ends_with_welcome():
    phone = make_phone()
    screen = register(phone)
    assert screen.startswith("END Welcome Jane! Your PayTrace ID is PT00000001.")
    assert phone.services.users[PHONE].full_name == "Jane Wanjiku"


def test_registration_in_kiswahili_speaks_kiswahili_from_the_language_step():
    phone = make_phone()
    phone.dial()
    for value in ("1", "Amina Otieno", "4821", "4821"):
        phone.send(value)
    terms = phone.send("2")
    assert terms.startswith("CON Unakubali masharti")
    assert phone.send("1").startswith("END Karibu Amina!")
    assert phone.services.users[PHONE].language == "sw"


def test_weak_pin_is_refused_with_a_reason():
    phone = make_phone()
    phone.dial()
    phone.send("1")
    phone.send("Jane Wanjiku")
    screen = phone.send("1234")
    assert screen.startswith("CON That PIN is too easy to guess.\nCreate a 4-digit PIN")


def test_letters_for_a_pin_reprompt():
    phone = make_phone()
    phone.dial()
    phone.send("1")
    phone.send("Jane Wanjiku")
    assert phone.send("abcd").startswith("CON PIN must be 4 digits.")


def test_mismatched_confirmation_goes_back_to_choosing_a_pin():
    phone = make_phone()
    phone.dial()
    for value in ("1", "Jane Wanjiku", "4821"):
        phone.send(value)
    screen = phone.send("4822")
    assert screen.startswith("CON PINs did not match.\nCreate a 4-digit PIN")
    phone.send("5937")
    assert phone.send("5937").startswith("CON Choose language")


def test_the_session_never_holds_the_pin_in_the_clear():
    phone = make_phone()
    phone.dial()
    for value in ("1", "Jane Wanjiku", "7305", "7305"):
        phone.send(value)
    stored = phone.store._redis
    import asyncio

    raw = asyncio.run(stored.get(phone.session_key))
    assert "pin_hash" in raw  # the session was found and holds the hash...
    assert "7305" not in raw  # ...but never the PIN


def test_repeated_hop_returns_the_same_answer_and_registers_once():
    phone = make_phone()
    register(phone)
    first_calls = phone.services.calls.count("register")
    again = phone.hop()  # AT retries the final hop: same sessionId, same text
    assert again.startswith("END Welcome Jane!")
    assert phone.services.calls.count("register") == first_calls == 1


def test_a_new_session_with_the_same_key_cannot_register_twice():
    services = FakeUssdServices()
    register(make_phone(services=services))
    again = make_phone(services=services)
    assert again.dial().startswith("CON PayTrace - Hi Jane")


def test_back_and_home_work_on_every_kind_of_screen():
    phone = make_phone()
    phone.dial()
    phone.send("1")
    assert phone.send("0") == "CON Welcome to PayTrace\n1. Register\n2. About"
    phone.send("1")
    phone.send("Jane Wanjiku")
    assert phone.send("00").startswith("CON Welcome to PayTrace")


def test_about_is_paged_with_98_and_wraps():
    phone = make_phone()
    phone.dial()
    first = phone.send("2")
    assert "98. More" in first
    second = phone.send("98")
    assert second != first
    pages = [first, second]
    while "98. More" in pages[-1]:
        pages.append(phone.send("98"))
    assert phone.send("98") == first
    assert all(len(p) <= 182 for p in pages)


def test_an_option_that_does_not_exist_reprompts():
    phone = make_phone()
    phone.dial()
    assert phone.send("7").startswith("CON Invalid choice.\nWelcome to PayTrace")
    assert phone.send("***").startswith("CON ")


def test_five_thousand_characters_reprompt_and_emoji_names_are_refused():
    phone = make_phone()
    phone.dial()
    phone.send("1")
    assert phone.send("x" * 5000).startswith("CON That is too long.")
    assert phone.send("Jane \U0001f600").startswith("CON Use letters only")


def test_registered_caller_gets_the_main_menu_and_pay_asks_for_a_till():
    services = FakeUssdServices()
    services.add_user(PHONE, "Jane Wanjiku", "4821")
    phone = make_phone(services=services)
    menu = phone.dial()
    assert menu.splitlines()[0] == "CON PayTrace - Hi Jane"
    assert "2. Deposit\n3. Withdraw" in menu and "6. My account" in menu
    assert phone.send("5").startswith("CON Pay a merchant\nEnter till number or order code")


def test_my_details_show_the_id_and_a_masked_phone():
    phone = registered_caller()
    phone.send("6")
    details = phone.send("3")
    assert "PayTrace ID: PT00000001" in details
    assert "+2547****5678" in details
    assert "712345678" not in details


def test_stellar_address_screen_shows_the_whole_address_in_groups():
    phone = registered_caller()
    phone.send("6")
    screen = phone.send("4")
    pages = [screen]
    while "98. More" in pages[-1]:
        pages.append(phone.send("98"))
    assert "".join(pages).replace(" ", "").replace("\n", "").count("G" + "A" * 55) == 1


def test_wrong_pins_count_down_then_lock_and_say_so():
    phone = registered_caller()
    phone.send("6")
    phone.send("5")
    assert phone.send("1111").startswith("CON Wrong PIN. 2 attempt(s) left.")
    assert phone.send("2222").startswith("CON Wrong PIN. 1 attempt(s) left.")
    assert phone.send("3333").startswith("END Wrong PIN 3 times.")
    again = make_phone(services=phone.services)
    again.dial()
    again.send("6")
    again.send("5")
    assert again.send("4821").startswith("END Your PIN is locked until")


def test_change_pin_walk_replaces_the_pin():
    services = FakeUssdServices()
    profile = services.add_user(PHONE, "Jane Wanjiku", "4821")
    phone = make_phone(services=services)
    phone.dial()
    for value in ("6", "5", "4821", "5937"):
        phone.send(value)
    assert phone.send("5937").startswith("END Your PIN has been changed.")
    assert services.pin_hashes[profile.user_id] == fake_hash("5937")
    assert services.calls.count("set_pin") == 1


def test_language_change_answers_in_the_new_language():
    phone = registered_caller()
    phone.send("6")
    phone.send("6")
    screen = phone.send("2")
    assert screen.startswith("CON Lugha imewekwa Kiswahili.\nAkaunti yangu")
    assert phone.services.users[PHONE].language == "sw"


def test_text_arriving_all_at_once_is_consumed_in_order():
    services = FakeUssdServices()
    services.add_user(PHONE, "Jane Wanjiku", "4821")
    phone = make_phone(services=services)
    phone.session_id = "ATUid_direct"
    phone.inputs = ["6", "3"]  # *384*123*6*3# dialled directly
    assert "PayTrace ID: PT00000001" in phone.hop()


def test_a_retry_overtaken_by_the_next_hop_gets_its_own_answer_again():
    phone = make_phone()
    phone.dial()
    name_screen = phone.send("1")
    phone.send("Jane Wanjiku")  # the next hop arrived first...
    phone.inputs.pop()
    assert phone.hop() == name_screen  # ...then AT's retry of the previous one
    phone.inputs.append("Jane Wanjiku")
    assert phone.hop().startswith("CON Create a 4-digit PIN")
