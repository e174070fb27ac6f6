"""The phone simulator's pure parts: AT's cumulative text, the form, the display."""

import re

from app.cli.terminal_phone import (
    DISPLAY_WIDTH,
    NETWORK_CODE,
    PhoneSession,
    Screen,
    accumulate,
    frame,
    new_session_id,
)


def test_text_is_every_input_so_far_joined_with_star():
    assert accumulate([]) == ""
    assert accumulate(["1"]) == "1"
    assert accumulate(["1", "Jane Wanjiku", "4821"]) == "1*Jane Wanjiku*4821"


def test_dial_form_carries_empty_text_and_at_fields():
    session = PhoneSession(phone="+254712345678", service_code="*384*123#")
    assert session.form() == {
        "sessionId": session.session_id,
        "serviceCode": "*384*123#",
        "phoneNumber": "+254712345678",
        "networkCode": NETWORK_CODE,
        "text": "",
    }


def test_next_form_appends_the_input_without_recording_it_yet():
    session = PhoneSession(phone="+254712345678", inputs=["1", "2"])
    assert session.form("500")["text"] == "1*2*500"
    assert session.inputs == ["1", "2"]


def test_back_and_home_are_plain_inputs_in_the_text():
    session = PhoneSession(phone="+254712345678", inputs=["6", "1", "0"])
    assert session.form("00")["text"] == "6*1*0*00"


def test_session_ids_look_like_at_and_are_fresh_per_call():
    first, second = new_session_id(), new_session_id()
    assert re.fullmatch(r"ATUid_[0-9a-f]{32}", first)
    assert first != second
    assert PhoneSession(phone="x").session_id != PhoneSession(phone="x").session_id


def test_con_continues_and_end_closes():
    assert Screen.from_response(200, "CON Welcome\n1. Register") == Screen(
        "Welcome\n1. Register", ended=False
    )
    assert Screen.from_response(200, "END Bye") == Screen("Bye", ended=True)


def test_a_broken_answer_ends_the_call_and_says_what_came_back():
    screen = Screen.from_response(500, "Internal Server Error")
    assert screen.ended and not screen.ok
    assert "HTTP 500" in screen.text
    no_prefix = Screen.from_response(200, "Welcome")
    assert no_prefix.ended and "HTTP 200" in no_prefix.text


def test_frame_wraps_long_lines_inside_a_box_of_even_width():
    long_line = "Send money to any phone number in Kenya instantly"
    drawn = frame(Screen(f"Menu\n{long_line}\n\n1. Next", ended=False)).split("\n")
    assert {len(row) for row in drawn} == {DISPLAY_WIDTH + 4}
    body = [row[2:-2].rstrip() for row in drawn[1:-3]]
    assert body[0] == "Menu"
    assert " ".join(body[1:-2]) == long_line
    assert body[-2:] == ["", "1. Next"]
    assert "[reply]" in drawn[-2]


def test_frame_marks_the_end_of_the_call():
    assert "[call ended]" in frame(Screen("Thank you", ended=True))
