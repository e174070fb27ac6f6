"""Whatever arrives at /ussd, the caller gets a screen, never a 5xx or a trace."""

from __future__ import annotations

import time

import httpx
import pytest

from app.api.app import create_app
from tests.conftest import LiveServer, free_port

GOOD = {
    "sessionId": "ATUid_bad_input",
    "serviceCode": "*384*123#",
    "phoneNumber": "+254712345678",
    "networkCode": "63902",
    "text": "",
}


def post(url, **fields):
    form = {**GOOD, **fields}
    return httpx.post(f"{url}/ussd", data={k: v for k, v in form.items() if v is not None})


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"sessionId": None}, "END Sorry, we could not read that request."),
        ({"phoneNumber": None}, "END Sorry, we could not read that request."),
        ({"serviceCode": None}, "END Sorry, we could not read that request."),
        ({"phoneNumber": "not-a-phone"}, "END Sorry, we could not read that request."),
        ({"serviceCode": "*999#"}, "END This service code is not in use."),
        ({"text": "9"}, "CON Invalid choice."),
        ({"text": "x" * 1000}, "CON That is too long."),
        ({"text": "\U0001f600\U0001f600"}, "CON Invalid choice."),
        ({"text": "***"}, "CON "),
    ],
)
def test_bad_input_gets_a_clear_screen(live_server, fields, expected):
    response = post(live_server.url, **fields)
    assert response.status_code == 200
    assert response.text.startswith(expected), response.text
    assert len(response.text) <= 182


def test_a_body_that_is_not_a_form_is_answered_with_end(live_server):
    response = httpx.post(f"{live_server.url}/ussd", content=b"\xff\x00{json", timeout=5)
    assert response.status_code == 200
    assert response.text.startswith("END ")


def test_an_oversized_body_is_answered_with_end(live_server):
    response = httpx.post(f"{live_server.url}/ussd", content=b"a=" + b"b" * 20000)
    assert response.status_code == 200
    assert response.text.startswith("END ")


@pytest.mark.parametrize("dead", ["database_url", "redis_url"])
def test_with_a_dependency_down_ussd_apologises_within_two_seconds(settings, dead):
    broken = settings.model_copy(
        update={
            dead: (
                "postgresql://postgres@127.0.0.1:1/none"
                if dead == "database_url"
                else "redis://127.0.0.1:1/0"
            )
        }
    )
    port = free_port()
    with LiveServer(create_app(broken), port) as server:
        started = time.monotonic()
        response = post(server.url, sessionId=f"ATUid_down_{dead}")
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.text.startswith("END Sorry, PayTrace is unavailable right now.")
    assert elapsed < 2.0
