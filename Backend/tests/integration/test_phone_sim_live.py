"""The phone simulator against a real PayTrace over HTTP, as a tester would use it."""

import subprocess
import sys

from pydantic import SecretStr

from app.cli.terminal_phone import dial, make_client
from tests.conftest import LiveServer

PHONE = "+254712345678"
REGISTER = ["1", "Jane Wanjiku", "4826", "4826", "1", "1"]


def test_a_new_caller_registers_then_reads_their_details(live_server):
    with make_client(live_server.url) as client:
        welcome = dial(client, PHONE, [])[0]
        assert not welcome.ended and "Register" in welcome.text

        registered = dial(client, PHONE, REGISTER)
        assert len(registered) == len(REGISTER) + 1
        assert registered[-1].ended and "Welcome Jane" in registered[-1].text
        assert not any(screen.ended for screen in registered[:-1])

        details = dial(client, PHONE, ["6", "3"])[-1]
        assert "Jane Wanjiku" in details.text and not details.ended


def test_back_and_home_walk_back_to_the_main_menu(live_server):
    with make_client(live_server.url) as client:
        dial(client, PHONE, REGISTER)
        screens = dial(client, PHONE, ["6", "3", "0", "00"])
    assert [s.ended for s in screens] == [False] * 5
    assert "My details" in screens[3].text  # back from the details: My account again
    assert screens[4].text.startswith("PayTrace - Hi Jane")  # home: the main menu


def test_the_callback_token_is_sent_as_a_bearer_header(live_settings):
    guarded = live_settings.model_copy(update={"ussd_callback_token": SecretStr("s3cret-tok")})
    from app.api.app import create_app

    with LiveServer(create_app(guarded), guarded.port) as server:
        with make_client(server.url) as client:
            refused = dial(client, PHONE, [])[0]
        with make_client(server.url, token="s3cret-tok") as client:
            allowed = dial(client, PHONE, [])[0]
    assert refused.ended and refused.status_code == 403
    assert allowed.ok and "Register" in allowed.text


def test_the_terminal_phone_shows_framed_screens_and_hangs_up_on_q(live_server):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli.terminal_phone",
            "--phone",
            PHONE,
            "--url",
            live_server.url,
        ],
        input="2\nq\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 0, run.stderr
    assert "│ Welcome to PayTrace" in run.stdout
    assert "│ PayTrace is a mobile" in run.stdout  # About, after typing 2
    assert "┌" in run.stdout and "[reply]" in run.stdout
