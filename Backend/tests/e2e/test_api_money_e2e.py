"""Profile, wallet, history and Send money over the REST API, as the PWA uses them:
the same services, limits, fees, PIN lock and SMS as USSD."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from app.domain.money import NAIROBI
from tests.e2e.at_gateway import AtGateway
from tests.support.wallets import check_ledger, fund, phone_of

JANE, AMINA, STRANGER = phone_of(1), phone_of(2), phone_of(3)
JANE_PIN, AMINA_PIN = "4821", "5937"
KES = 100


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    # A PIN lock also says when it ends (or that a reset is required).
    lock = {"locked_until", "reset_required"} if code.startswith("pin_") else set()
    assert set(body) == {"error", "detail", *lock} and body["error"] == code, body
    return body


def balance(pwa, tokens) -> int:
    return pwa.http.get("/wallet", headers=pwa.bearer(tokens)).json()["balance"]


@pytest.fixture
def jane(pwa, database) -> dict:
    tokens = pwa.register(JANE, "Jane Wanjiku", JANE_PIN)
    fund(database, JANE, 1_000 * KES)
    return tokens


@pytest.fixture
def amina(pwa) -> dict:
    return pwa.register(AMINA, "Amina Otieno", AMINA_PIN, language="sw")


# ---- me ----------------------------------------------------------------------------


def test_changing_language_over_the_api_changes_what_ussd_speaks(pwa, jane, live_server):
    gateway = AtGateway(live_server.url, JANE)
    assert "Send money" in gateway.dial()  # caches Jane's profile for USSD
    changed = pwa.http.patch("/me", json={"language": "sw"}, headers=pwa.bearer(jane))
    assert changed.status_code == 200 and changed.json()["language"] == "sw"
    assert "Tuma pesa" in gateway.dial()


def test_a_name_is_checked_as_at_registration(pwa, jane):
    bad = pwa.http.patch("/me", json={"full_name": "J4n3 ☃"}, headers=pwa.bearer(jane))
    assert_error(bad, 422, "invalid_name")
    assert_error(pwa.http.patch("/me", json={}, headers=pwa.bearer(jane)), 422, "nothing_to_change")
    good = pwa.http.patch("/me", json={"full_name": "  Jane   Kamau "}, headers=pwa.bearer(jane))
    assert good.json()["full_name"] == "Jane Kamau"


def test_changing_the_pin_needs_the_old_one_and_a_strong_new_one(pwa, jane):
    headers = pwa.bearer(jane)
    wrong = pwa.http.post("/me/pin", json={"old_pin": "9047", "new_pin": "7305"}, headers=headers)
    assert "2 attempts left" in assert_error(wrong, 401, "wrong_pin")["detail"]
    weak = pwa.http.post("/me/pin", json={"old_pin": JANE_PIN, "new_pin": "1111"}, headers=headers)
    assert_error(weak, 422, "weak_pin")
    done = pwa.http.post("/me/pin", json={"old_pin": JANE_PIN, "new_pin": "7305"}, headers=headers)
    assert done.status_code == 200
    assert pwa.token(JANE, pwa.new_code(JANE), "7305").status_code == 200
    pwa.deliver_sms()
    assert any("your PIN was changed" in text for text in pwa.inbox(JANE))


# ---- wallet ------------------------------------------------------------------------


def test_the_wallet_shows_balance_address_and_what_the_tier_still_allows(pwa, jane):
    wallet = pwa.http.get("/wallet", headers=pwa.bearer(jane)).json()
    assert wallet["balance"] == 1_000 * KES and wallet["currency"] == "KES"
    assert wallet["stellar_address"] == jane["user"]["stellar_address"]
    assert wallet["limits"]["tier"] == 1
    assert wallet["limits"]["daily_remaining"] == 150_000 * KES


def test_history_pages_through_every_movement_once_newest_first(pwa, jane, amina):
    for n in range(7):
        assert pwa.send(jane, AMINA, (10 + n) * KES, JANE_PIN).status_code == 201
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = pwa.http.get("/wallet/transactions", params=params, headers=pwa.bearer(jane))
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert [item["type"] for item in seen] == ["transfer"] * 7 + ["cash_in"]
    assert len({item["id"] for item in seen}) == 8
    assert [item["amount"] for item in seen[:7]] == [(10 + n) * KES for n in reversed(range(7))]
    assert seen[0]["direction"] == "out" and seen[0]["fee"] == 0
    assert seen[0]["counterparty"] == {"name": "Amina Otieno", "phone": "+2547****0002"}
    assert seen[0]["balance_after"] == balance(pwa, jane)


def test_history_filters_by_type_direction_and_day(pwa, jane, amina):
    assert pwa.send(jane, AMINA, 200 * KES, JANE_PIN).status_code == 201
    assert pwa.send(amina, JANE, 50 * KES, AMINA_PIN).status_code == 201
    get = lambda **params: pwa.http.get(  # noqa: E731
        "/wallet/transactions", params=params, headers=pwa.bearer(jane)
    ).json()["items"]
    assert [i["type"] for i in get(type="cash_in")] == ["cash_in"]
    assert [(i["direction"], i["amount"]) for i in get(type="transfer", direction="in")] == [
        ("in", 50 * KES)
    ]
    today = datetime.now(NAIROBI).date()
    assert len(get(**{"from": today.isoformat(), "to": today.isoformat()})) == 3
    assert get(**{"to": (today - timedelta(days=1)).isoformat()}) == []
    bad_range = pwa.http.get(
        "/wallet/transactions",
        params={"from": today.isoformat(), "to": (today - timedelta(days=1)).isoformat()},
        headers=pwa.bearer(jane),
    )
    assert_error(bad_range, 422, "invalid_dates")
    bad_cursor = pwa.http.get(
        "/wallet/transactions", params={"cursor": "bm9wZQ"}, headers=pwa.bearer(jane)
    )
    assert_error(bad_cursor, 422, "invalid_cursor")


# ---- send money --------------------------------------------------------------------


def test_send_money_moves_amount_and_fee_and_texts_both_sides(pwa, jane, amina, database):
    quote = pwa.http.get(
        "/transfers/quote",
        params={"to": "0711000002", "amount": 250 * KES},
        headers=pwa.bearer(jane),
    )
    assert quote.json() == {
        "to": AMINA,
        "recipient_name": "Amina Otieno",
        "amount": 25_000,
        "fee": 500,
        "total": 25_500,
        "balance": 100_000,
    }
    sent = pwa.send(jane, "0711000002", 250 * KES, JANE_PIN, note="rent")
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert (body["to"], body["recipient_name"], body["amount"], body["fee"], body["balance"]) == (
        AMINA,
        "Amina Otieno",
        25_000,
        500,
        74_500,
    )
    assert balance(pwa, amina) == 25_000
    pwa.deliver_sms()
    assert any(body["id"] in text and "sent to Amina" in text for text in pwa.inbox(JANE))
    assert any(body["id"] in text and "Umepokea" in text for text in pwa.inbox(AMINA))
    assert check_ledger(database).sound


def test_the_same_key_and_body_answers_the_first_transfer_and_moves_nothing(pwa, jane, amina):
    key = str(uuid.uuid4())
    first = pwa.send(jane, AMINA, 100 * KES, JANE_PIN, key=key)
    again = pwa.send(jane, AMINA, 100 * KES, JANE_PIN, key=key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert balance(pwa, amina) == 100 * KES
    other_body = pwa.send(jane, AMINA, 101 * KES, JANE_PIN, key=key)
    assert_error(other_body, 409, "idempotency_key_reused")


def test_a_transfer_needs_an_idempotency_key(pwa, jane, amina):
    response = pwa.http.post(
        "/transfers", json={"to": AMINA, "amount": 100, "pin": JANE_PIN}, headers=pwa.bearer(jane)
    )
    assert_error(response, 422, "validation_failed")
    assert "Idempotency-Key" in response.json()["detail"]


def test_a_corrected_pin_with_the_same_key_is_a_new_attempt(pwa, jane, amina):
    key = str(uuid.uuid4())
    assert_error(pwa.send(jane, AMINA, 100 * KES, "9047", key=key), 401, "wrong_pin")
    # A retry of the same wrong request counts once: still two attempts left.
    assert "2 attempts" in pwa.send(jane, AMINA, 100 * KES, "9047", key=key).json()["detail"]
    assert pwa.send(jane, AMINA, 100 * KES, JANE_PIN, key=key).status_code == 201


def test_a_pin_locked_on_ussd_stops_api_transfers_but_not_receiving(
    pwa, jane, amina, live_server, database
):
    for _ in range(3):
        AtGateway(live_server.url, JANE).walk("6", "1", "9047")
    locked = pwa.send(jane, AMINA, 100 * KES, JANE_PIN)
    assert_error(locked, 403, "pin_locked")
    assert int(locked.headers["Retry-After"]) > 0
    fund(database, AMINA, 100 * KES)
    assert pwa.send(amina, JANE, 40 * KES, AMINA_PIN).status_code == 201
    assert balance(pwa, jane) == 1_040 * KES


def test_limits_and_rules_are_the_ussd_ones(pwa, jane, amina):
    assert_error(pwa.send(jane, AMINA, 2_000 * KES, JANE_PIN), 422, "insufficient_funds")
    assert_error(pwa.send(jane, JANE, 10 * KES, JANE_PIN), 422, "send_to_self")
    assert_error(pwa.send(jane, STRANGER, 10 * KES, JANE_PIN), 404, "recipient_not_registered")
    assert_error(pwa.send(jane, AMINA, 80_000 * KES, JANE_PIN), 422, "limit_exceeded")
    assert_error(pwa.send(jane, "12", 10 * KES, JANE_PIN), 422, "invalid_phone")
    assert_error(pwa.send(jane, AMINA, 0, JANE_PIN), 422, "validation_failed")


def test_a_number_not_on_paytrace_can_be_invited_once_a_day(pwa, jane):
    invite = lambda: pwa.http.post(  # noqa: E731
        "/invitations", json={"phone": STRANGER}, headers=pwa.bearer(jane)
    )
    assert invite().json() == {"status": "invited"}
    assert invite().json() == {"status": "already_invited"}
    pwa.deliver_sms()
    [text] = pwa.inbox(STRANGER)
    assert text.startswith("Jane wants to send you money with PayTrace")
    registered = pwa.http.post("/invitations", json={"phone": JANE}, headers=pwa.bearer(jane))
    assert_error(registered, 422, "already_registered")


# ---- the edges ---------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_with_413(pwa, jane, live_settings):
    big = {
        "to": AMINA,
        "amount": 1,
        "pin": JANE_PIN,
        "note": "x" * live_settings.api_max_body_bytes,
    }
    response = pwa.http.post(
        "/transfers", json=big, headers={**pwa.bearer(jane), "Idempotency-Key": "k1"}
    )
    assert_error(response, 413, "payload_too_large")


def test_malformed_json_is_a_4xx_with_the_error_shape(pwa, jane):
    response = pwa.http.post(
        "/auth/otp", content=b'{"phone": ', headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert set(response.json()) == {"error", "detail"}
