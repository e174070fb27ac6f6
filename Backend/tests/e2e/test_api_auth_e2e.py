"""Signing in to the REST API as the PWA does: codes by SMS (read off the sandbox
phone), PIN, rotating refresh tokens, and what an outsider can and cannot learn."""

from __future__ import annotations

import logging
import re

import pytest

from app.db.pool import Database
from tests.e2e.at_gateway import AtGateway
from tests.support.wallets import phone_of

PIN = "4821"
JANE, STRANGER = phone_of(1), phone_of(2)


def rows(database: Database, sql: str) -> list[tuple]:
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(sql)
        found = cur.fetchall()
        conn.rollback()
    return found


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    # A PIN lock also says when it ends (or that a reset is required).
    lock = {"locked_until", "reset_required"} if code.startswith("pin_") else set()
    assert set(body) == {"error", "detail", *lock} and body["error"] == code, body
    return body


@pytest.fixture
def jane(pwa) -> dict:
    return pwa.register(JANE, "Jane Wanjiku", PIN)


# ---- codes -------------------------------------------------------------------------


def test_asking_for_a_code_answers_the_same_for_a_stranger_and_sends_them_nothing(pwa, jane):
    known, unknown = pwa.ask_code(JANE), pwa.ask_code(STRANGER)
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(pwa.codes(JANE)) == 2  # the registration code and this one
    assert pwa.codes(STRANGER) == []


def test_codes_are_stored_hashed_and_never_readable_in_the_outbox(pwa, jane, database):
    code = pwa.new_code(JANE)
    stored = rows(database, "SELECT code_hash FROM api_otps")
    outbox = rows(database, "SELECT payload::text FROM outbox WHERE payload->>'template' = 'otp'")
    assert stored and outbox
    assert all(code not in row[0] for row in stored + outbox)
    assert all('"sealed"' in row[0] and '"message"' not in row[0] for row in outbox)


def test_a_registered_number_asking_to_register_is_told_by_sms_and_gets_no_code(pwa, jane):
    response = pwa.ask_code(JANE, purpose="register")
    assert response.status_code == 202
    pwa.deliver_sms()
    assert "already has a PayTrace wallet" in pwa.inbox(JANE)[-1]
    assert len(pwa.codes(JANE)) == 1  # only the code Jane registered with


# ---- signing in --------------------------------------------------------------------


def test_code_and_pin_sign_in_and_the_access_token_opens_me(pwa, jane):
    tokens = pwa.sign_in(JANE, PIN)
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
    me = pwa.http.get("/me", headers=pwa.bearer(tokens))
    assert me.status_code == 200
    assert me.json()["phone"] == JANE and me.json()["full_name"] == "Jane Wanjiku"


def test_unknown_phone_wrong_code_and_wrong_pin_all_look_the_same(pwa, jane):
    pwa.ask_code(STRANGER)
    stranger = pwa.token(STRANGER, "123456", PIN)
    wrong_code = pwa.token(JANE, "000000" if pwa.new_code(JANE) != "000000" else "111111", PIN)
    wrong_pin = pwa.token(JANE, pwa.new_code(JANE), "9047")
    bodies = [
        assert_error(r, 401, "invalid_credentials") for r in (stranger, wrong_code, wrong_pin)
    ]
    assert bodies[0] == bodies[1] == bodies[2]


def test_a_code_signs_in_once(pwa, jane):
    code = pwa.new_code(JANE)
    assert pwa.token(JANE, code, PIN).status_code == 200
    assert_error(pwa.token(JANE, code, PIN), 401, "invalid_credentials")


def test_only_the_newest_code_counts(pwa, jane):
    older = pwa.new_code(JANE)
    newer = pwa.new_code(JANE)
    if older != newer:
        assert_error(pwa.token(JANE, older, PIN), 401, "invalid_credentials")
    assert pwa.token(JANE, newer, PIN).status_code == 200


def test_a_code_dies_after_five_wrong_tries(pwa, jane):
    code = pwa.new_code(JANE)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        assert_error(pwa.token(JANE, wrong, PIN), 401, "invalid_credentials")
    assert_error(pwa.token(JANE, code, PIN), 401, "invalid_credentials")


def test_wrong_pins_through_the_api_lock_money_out_on_ussd_too(pwa, jane, live_server):
    for _ in range(2):
        assert_error(pwa.token(JANE, pwa.new_code(JANE), "9047"), 401, "invalid_credentials")
    locked = pwa.token(JANE, pwa.new_code(JANE), "9047")
    assert_error(locked, 403, "pin_locked")
    assert int(locked.headers["Retry-After"]) > 0
    # The right PIN does not get past the lock, on either channel.
    assert_error(pwa.token(JANE, pwa.new_code(JANE), PIN), 403, "pin_locked")
    screen = AtGateway(live_server.url, JANE).walk("6", "1", PIN)
    assert screen.startswith("END Your PIN is locked"), screen


def test_wrong_pins_on_ussd_lock_the_api_sign_in_too(pwa, jane, live_server):
    gateway = AtGateway(live_server.url, JANE)
    for _ in range(3):
        gateway.walk("6", "1", "9047")
    assert_error(pwa.token(JANE, pwa.new_code(JANE), PIN), 403, "pin_locked")


# ---- tokens ------------------------------------------------------------------------


def test_no_token_a_forged_token_and_a_token_of_another_key_are_refused(pwa, jane, live_settings):
    import jwt

    missing = pwa.http.get("/me")
    assert_error(missing, 401, "unauthorized")
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    header, payload, _ = jane["access_token"].split(".")
    forged = f"{header}.{payload}.{'A' * 43}"
    assert_error(pwa.http.get("/me", headers=pwa.bearer(forged)), 401, "invalid_token")
    claims = jwt.decode(jane["access_token"], options={"verify_signature": False})
    other_key = jwt.encode(claims, "not-the-server-secret-" * 2, algorithm="HS256")
    assert_error(pwa.http.get("/me", headers=pwa.bearer(other_key)), 401, "invalid_token")
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert_error(pwa.http.get("/me", headers=pwa.bearer(unsigned)), 401, "invalid_token")


def test_refresh_rotates_the_token_and_a_reused_one_ends_the_session(pwa, jane):
    first = jane["refresh_token"]
    rotated = pwa.http.post("/auth/refresh", json={"refresh_token": first})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first
    assert pwa.http.get("/me", headers=pwa.bearer(second)).status_code == 200

    # The old token comes back (a thief, or a client bug): the whole session ends.
    assert_error(
        pwa.http.post("/auth/refresh", json={"refresh_token": first}), 401, "invalid_token"
    )
    again = pwa.http.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert_error(again, 401, "invalid_token")
    assert_error(pwa.http.get("/me", headers=pwa.bearer(second)), 401, "invalid_token")


def test_reuse_ends_only_that_session(pwa, jane):
    other_device = pwa.sign_in(JANE, PIN)
    pwa.http.post("/auth/refresh", json={"refresh_token": jane["refresh_token"]})
    pwa.http.post("/auth/refresh", json={"refresh_token": jane["refresh_token"]})
    assert pwa.http.get("/me", headers=pwa.bearer(other_device)).status_code == 200


def test_logout_ends_the_access_and_refresh_tokens_of_that_device(pwa, jane):
    assert pwa.http.post("/auth/logout", headers=pwa.bearer(jane)).status_code == 200
    assert_error(pwa.http.get("/me", headers=pwa.bearer(jane)), 401, "invalid_token")
    refresh = pwa.http.post("/auth/refresh", json={"refresh_token": jane["refresh_token"]})
    assert_error(refresh, 401, "invalid_token")


def test_an_unknown_refresh_token_is_refused(pwa):
    assert_error(
        pwa.http.post("/auth/refresh", json={"refresh_token": "x" * 43}), 401, "invalid_token"
    )


# ---- rate limits -------------------------------------------------------------------


def test_codes_are_rate_limited_per_phone(pwa, jane, live_settings):
    # jane's registration asked once; the limit counts per window.
    for _ in range(live_settings.otp_requests_per_phone - 1):
        assert pwa.ask_code(JANE).status_code == 202
    limited = pwa.ask_code(JANE)
    assert_error(limited, 429, "rate_limited")
    assert 0 < int(limited.headers["Retry-After"]) <= live_settings.api_rate_window_s
    assert pwa.ask_code(STRANGER).status_code == 202  # another phone is not held up


def test_codes_are_rate_limited_per_address(pwa, live_settings):
    for n in range(live_settings.otp_requests_per_address):
        assert pwa.ask_code(phone_of(100 + n)).status_code == 202
    assert_error(pwa.ask_code(phone_of(999)), 429, "rate_limited")


def test_sign_in_attempts_are_rate_limited_per_phone(pwa, jane, live_settings):
    for _ in range(live_settings.login_attempts_per_phone - 1):  # registration was one
        assert pwa.token(JANE, "000001", PIN).status_code == 401
    assert_error(pwa.token(JANE, "000001", PIN), 429, "rate_limited")


# ---- registration ------------------------------------------------------------------


def test_registration_makes_the_same_user_wallet_and_welcome_as_ussd(pwa, jane, database):
    [(role, key)] = rows(database, "SELECT role, registration_key FROM users")
    assert role == "worker" and key.startswith("api:otp:")
    wallets = rows(database, "SELECT stellar_address, activation_status FROM wallets")
    assert wallets == [(jane["user"]["stellar_address"], "pending")]
    assert rows(database, "SELECT balance FROM ledger_accounts WHERE user_id IS NOT NULL") == [(0,)]
    pwa.deliver_sms()
    assert any(text.startswith("Welcome to PayTrace, Jane!") for text in pwa.inbox(JANE))
    # USSD knows her at once: the main menu, not the registration menu.
    assert "Send money" in AtGateway(pwa.base_url, JANE).dial()


def test_registration_refuses_a_weak_pin_without_spending_the_code(pwa):
    code = pwa.new_code(JANE, "register")
    body = {
        "phone": JANE,
        "otp": code,
        "full_name": "Jane Wanjiku",
        "pin": "1234",
        "accept_terms": True,
    }
    assert_error(pwa.http.post("/workers/register", json=body), 422, "weak_pin")
    assert_error(
        pwa.http.post("/workers/register", json={**body, "pin": PIN, "accept_terms": False}),
        422,
        "terms_not_accepted",
    )
    assert pwa.http.post("/workers/register", json={**body, "pin": PIN}).status_code == 201


def test_registration_with_a_wrong_code_creates_nobody(pwa, database):
    code = pwa.new_code(JANE, "register")
    body = {
        "phone": JANE,
        "otp": "000000" if code != "000000" else "111111",
        "full_name": "Jane Wanjiku",
        "pin": PIN,
        "accept_terms": True,
    }
    assert_error(pwa.http.post("/workers/register", json=body), 401, "invalid_credentials")
    assert rows(database, "SELECT count(*) FROM users") == [(0,)]


def test_canary_pin_and_codes_never_reach_the_logs(pwa, caplog):
    from app.logging_setup import JsonFormatter

    canary = "5937"
    caplog.set_level(logging.DEBUG)
    tokens = pwa.register(STRANGER, "Canary Bird", canary)
    code = pwa.new_code(STRANGER)
    assert_error(pwa.token(STRANGER, code, "9047"), 401, "invalid_credentials")
    assert pwa.token(STRANGER, code, canary).status_code == 200
    pin_change = {"old_pin": canary, "new_pin": "7305"}
    assert pwa.http.post("/me/pin", json=pin_change, headers=pwa.bearer(tokens)).status_code == 200
    pwa.deliver_sms()
    formatter = JsonFormatter()
    captured = "\n".join(formatter.format(record) for record in caplog.records)
    assert captured, "nothing was logged: the canary check would prove nothing"
    codes = pwa.codes(STRANGER)
    assert len(codes) == 2
    for secret in (canary, "7305", tokens["refresh_token"], *codes):
        # As a whole token: a random id in a log line may hold "5937" by chance.
        assert not re.search(rf"(?<![0-9A-Za-z_-]){re.escape(secret)}(?![0-9A-Za-z_-])", captured)


SIGNED_IN_ROUTES = [
    ("GET", "/me", None),
    ("PATCH", "/me", {"language": "sw"}),
    ("POST", "/me/pin", {"old_pin": PIN, "new_pin": "7305"}),
    ("GET", "/wallet", None),
    ("GET", "/wallet/transactions", None),
    ("GET", "/transfers/quote?to=0711000002&amount=100", None),
    ("POST", "/transfers", {"to": STRANGER, "amount": 100, "pin": PIN}),
    ("POST", "/invitations", {"phone": STRANGER}),
    ("POST", "/campaigns", {"title": "School fees", "target_amount": 100000}),
    ("GET", "/campaigns", None),
    ("GET", "/campaigns/1", None),
    ("PATCH", "/campaigns/1", {"title": "School fees"}),
    ("DELETE", "/campaigns/1", None),
    ("POST", "/campaigns/1/close", None),
    ("GET", "/campaigns/1/contributions", None),
    ("GET", "/campaigns/1/stats", None),
    ("POST", "/contributions", {"campaign_id": 1, "amount": 100, "pin": PIN}),
    ("GET", "/contributions/1", None),
    ("POST", "/pledges", {"campaign_id": 1, "amount": 100, "due_date": "2030-01-01"}),
    ("GET", "/pledges", None),
    ("GET", "/pledges/1", None),
    ("POST", "/pledges/1/payments", {"pin": PIN}),
    ("POST", "/pledges/1/cancel", None),
    ("POST", "/auth/logout", None),
]


@pytest.mark.parametrize(("method", "path", "body"), SIGNED_IN_ROUTES)
def test_every_signed_in_route_refuses_a_caller_without_a_live_token(pwa, jane, method, path, body):
    headers = {"Idempotency-Key": "k1"}
    missing = pwa.http.request(method, path, json=body, headers=headers)
    assert_error(missing, 401, "unauthorized")
    # A token of a session that has ended (here: signed out) is refused as well.
    assert pwa.http.post("/auth/logout", headers=pwa.bearer(jane)).status_code == 200
    ended = pwa.http.request(method, path, json=body, headers={**headers, **pwa.bearer(jane)})
    assert_error(ended, 401, "invalid_token")
