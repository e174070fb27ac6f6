"""/ussd and the AT and M-Pesa callbacks check their token whenever one is set, and
accept two during a rotation: the current and the previous one. A hop without the
token, or with a wrong one, changes nothing: no session, no user, no money."""

from __future__ import annotations

import secrets

import httpx
import pytest
from pydantic import SecretStr

from app.api.app import create_app
from app.http.tokens import callback_token_matches
from tests.conftest import LiveServer
from tests.security.edges_state import snapshot
from tests.support.mpesa import rows
from tests.support.wallets import phone_of

PHONE = phone_of(7)
TOKENS = {name: secrets.token_urlsafe(32) for name in ("ussd", "at", "mpesa")}
PREVIOUS = {name: secrets.token_urlsafe(32) for name in ("ussd", "at", "mpesa")}


def hop(session: str) -> dict[str, str]:
    return {"sessionId": session, "serviceCode": "*384*123#", "phoneNumber": PHONE, "text": ""}


@pytest.fixture
def rotating(live_settings):
    """PayTrace mid-rotation: every callback has a current and a previous token."""
    update = {}
    for name in TOKENS:
        update[f"{name}_callback_token"] = SecretStr(TOKENS[name])
        update[f"{name}_callback_token_previous"] = SecretStr(PREVIOUS[name])
    settings = live_settings.model_copy(update=update)
    with LiveServer(create_app(settings), settings.port) as server:
        yield server, settings


@pytest.fixture
def rotated(live_settings):
    """The rotation finished: only the new tokens are configured."""
    update = {f"{name}_callback_token": SecretStr(TOKENS[name]) for name in TOKENS}
    settings = live_settings.model_copy(update=update)
    with LiveServer(create_app(settings), settings.port) as server:
        yield server, settings


@pytest.mark.parametrize(
    "how",
    [
        "no token",
        "wrong path token",
        "wrong bearer",
        "token as a prefix",
        "the token, not as a bearer",
    ],
)
def test_a_ussd_hop_without_the_right_token_is_refused_and_changes_nothing(
    rotating, clean_database, how
):
    server, settings = rotating
    path, headers = {
        "no token": ("/ussd", {}),
        "wrong path token": ("/ussd/" + secrets.token_urlsafe(32), {}),
        "wrong bearer": ("/ussd", {"Authorization": "Bearer " + secrets.token_urlsafe(32)}),
        "token as a prefix": ("/ussd/" + TOKENS["ussd"][:-1], {}),
        "the token, not as a bearer": ("/ussd", {"Authorization": "Basic " + TOKENS["ussd"]}),
    }[how]
    before = snapshot(clean_database, settings)
    for text in ("", "1", "1*Mallory"):
        answer = httpx.post(
            server.url + path, data={**hop("forged"), "text": text}, headers=headers
        )
        assert answer.status_code == 403
        assert answer.json()["error"] == "forbidden"
    assert snapshot(clean_database, settings) == before


@pytest.mark.parametrize("which", ["current", "previous"])
def test_a_ussd_hop_with_the_current_or_previous_token_is_served(rotating, which):
    server, _ = rotating
    token = (TOKENS if which == "current" else PREVIOUS)["ussd"]
    by_path = httpx.post(f"{server.url}/ussd/{token}", data=hop(f"{which}-1"))
    assert by_path.status_code == 200 and by_path.text.startswith("CON ")
    by_header = httpx.post(
        f"{server.url}/ussd", data=hop(f"{which}-2"), headers={"Authorization": f"Bearer {token}"}
    )
    assert by_header.status_code == 200 and by_header.text.startswith("CON ")


def test_once_the_rotation_is_over_the_previous_token_is_refused(rotated, clean_database):
    server, settings = rotated
    before = snapshot(clean_database, settings)
    answer = httpx.post(f"{server.url}/ussd/{PREVIOUS['ussd']}", data=hop("late"))
    assert answer.status_code == 403
    assert snapshot(clean_database, settings) == before


def _verifications(database) -> list[tuple[str, str, str]]:
    return rows(database, "SELECT provider, kind, verification FROM inbound_callbacks ORDER BY id")


def test_at_delivery_reports_take_the_current_or_previous_token_and_no_other(
    rotating, clean_database
):
    server, _ = rotating
    report = {"id": "ATXid_unknown", "status": "Success", "phoneNumber": PHONE}
    base = f"{server.url}/callbacks/at/sms-delivery"
    assert httpx.post(base, data=report).status_code == 403
    assert httpx.post(f"{base}/{secrets.token_urlsafe(32)}", data=report).status_code == 403
    assert httpx.post(f"{base}/{PREVIOUS['at']}", data=report).status_code == 200
    assert httpx.post(f"{base}/{TOKENS['at']}", data=report).status_code == 200
    assert _verifications(clean_database) == [
        ("at", "sms_delivery", "token_mismatch"),
        ("at", "sms_delivery", "token_mismatch"),
        ("at", "sms_delivery", "token_matched"),
        ("at", "sms_delivery", "token_matched"),
    ]


def test_mpesa_callbacks_take_the_current_or_previous_token_and_no_other(rotating, clean_database):
    server, _ = rotating
    body = {"Body": {"stkCallback": {"MerchantRequestID": "1", "CheckoutRequestID": "ws_CO_0"}}}
    base = f"{server.url}/callbacks/mpesa/stk"
    journals = rows(clean_database, "SELECT count(*) FROM journal_transactions")
    assert httpx.post(f"{base}/{secrets.token_urlsafe(32)}", json=body).status_code == 403
    assert httpx.post(f"{base}/{PREVIOUS['mpesa']}", json=body).status_code != 403
    assert httpx.post(f"{base}/{TOKENS['mpesa']}", json=body).status_code != 403
    assert [v for _, _, v in _verifications(clean_database)] == [
        "token_mismatch",
        "token_matched",
        "token_matched",
    ]
    assert rows(clean_database, "SELECT count(*) FROM journal_transactions") == journals


def test_callback_token_matches_either_live_token_and_nothing_else():
    current, previous = SecretStr("c" * 40), SecretStr("p" * 40)
    assert callback_token_matches(current, previous, "c" * 40)
    assert callback_token_matches(current, previous, "p" * 40)
    assert callback_token_matches(current, None, "c" * 40)
    assert callback_token_matches(None, previous, "p" * 40)
    for given in (None, "", "c" * 39, "p" * 41, "x" * 40):
        assert not callback_token_matches(current, previous, given)
    assert callback_token_matches(None, None, None)  # nothing configured: development
