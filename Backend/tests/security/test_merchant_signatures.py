"""Signed merchant requests at the edge, over real HTTP, PostgreSQL and Redis: a request
signed as docs/merchants.md says is let in; a changed body, path, query, method or
timestamp, a replay, a wrong, unknown or revoked key, a suspended merchant, a stale
signature are all 401 `invalid_signature`, and change nothing."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx
import pytest

from app.api.app import create_app
from app.logging_setup import JsonFormatter
from app.services.merchant_signatures import DOES_NOT_VERIFY, HEADER, header_value
from tests.conftest import LiveServer, free_port
from tests.security.admin_audit_world import query
from tests.support.merchants import (
    Keyed,
    execute,
    key_row,
    keyed_merchant,
    onboard_body,
    signed_headers,
    signed_request,
)
from tests.support.wallets import ledger_snapshot

ME = "/api/v1/merchant/me"


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


@pytest.fixture
def shop(clean_database, live_settings) -> Keyed:
    return keyed_merchant(clean_database, live_settings)


def state(database) -> list[tuple]:
    """Every merchant and key row, and the ledger: what a refused request must not change."""
    merchants = query(database, "SELECT to_jsonb(m) FROM merchants m ORDER BY id")
    keys = query(database, "SELECT to_jsonb(k) FROM merchant_api_keys k ORDER BY id")
    return [*merchants, *keys, (ledger_snapshot(database),)]


def assert_refused(response: httpx.Response, detail: str | None = None) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] == "invalid_signature", body
    assert response.headers["www-authenticate"] == "PayTrace-Signature"
    if detail is not None:
        assert body["detail"] == detail


def test_a_signed_request_gets_the_merchants_profile_and_balance(http, shop, clean_database):
    response = signed_request(http, shop, "GET", ME)
    assert response.status_code == 200, response.text
    me = response.json()
    assert (me["id"], me["till_number"], me["display_name"]) == (shop.merchant_id, "512345",
                                                                 "MAMA MBOGA")  # fmt: skip
    (balance,) = query(clean_database, "SELECT a.balance FROM merchants m JOIN ledger_accounts a"
                                       " ON a.id = m.account_id")[0]  # fmt: skip
    assert (me["balance"], me["currency"], me["key_id"]) == (balance, "KES", shop.key_id)
    assert me["fee"] == {"bps": 50, "min_cents": 0, "max_cents": 20_000}
    assert key_row(clean_database, shop.key_id)["last_used_at"] is not None


def test_the_query_is_signed_with_the_path(http, shop):
    assert signed_request(http, shop, "GET", ME + "?expand=keys&x=%2F").status_code == 200
    headers = signed_headers(shop.key_id, shop.secret, "GET", ME)
    assert_refused(http.get(ME + "?expand=keys", headers=headers), DOES_NOT_VERIFY)


def test_every_tampered_request_is_refused_and_changes_nothing(http, shop, clean_database):
    now = int(time.time())

    def sent(method: str, path: str, body: bytes, *, signed_as: tuple, secret: str = shop.secret,
             key_id: str = shop.key_id, t: int = now) -> httpx.Response:  # fmt: skip
        headers = {HEADER: header_value(key_id, secret, t, *signed_as)}
        return http.request(method, path, content=body or None, headers=headers)

    before = state(clean_database)
    tampered = {
        "body added": sent("GET", ME, b'{"x": 1}', signed_as=("GET", ME, b"")),
        "body changed": sent("GET", ME, b"b", signed_as=("GET", ME, b"a")),
        "path changed": sent("GET", ME, b"", signed_as=("GET", "/api/v1/merchant/you", b"")),
        "method changed": sent("GET", ME, b"", signed_as=("POST", ME, b"")),
        "wrong secret": sent("GET", ME, b"", signed_as=("GET", ME, b""), secret="mks_" + "x" * 43),
        "unknown key": sent("GET", ME, b"", signed_as=("GET", ME, b""),
                            key_id="mk_live_" + "0" * 24),
    }  # fmt: skip
    # Well outside the window: requests under load take seconds, and the exact edges
    # are tests/unit/test_merchant_rules.py's.
    stale = header_value(shop.key_id, shop.secret, now - 400, "GET", ME, b"")
    future = header_value(shop.key_id, shop.secret, int(time.time()) + 400, "GET", ME, b"")
    moved = header_value(shop.key_id, shop.secret, now, "GET", ME, b"").replace(
        f"t={now}", f"t={now - 1}"
    )
    tampered["timestamp changed"] = http.get(ME, headers={HEADER: moved})
    tampered["outside the window (past)"] = http.get(ME, headers={HEADER: stale})
    tampered["outside the window (future)"] = http.get(ME, headers={HEADER: future})
    tampered["no header"] = http.get(ME)
    tampered["junk header"] = http.get(ME, headers={HEADER: "t=1,kid=x,v1=y"})
    tampered["bearer instead"] = http.get(ME, headers={"Authorization": f"Bearer {shop.secret}"})

    for name, response in tampered.items():
        assert response.status_code == 401, (name, response.text)
        assert_refused(response)
    assert state(clean_database) == before  # last_used_at included: not touched


def test_unknown_key_wrong_mac_revoked_key_and_suspended_merchant_read_the_same(
    http, shop, clean_database, live_settings
):
    other = keyed_merchant(clean_database, live_settings, till="712345")
    answers = {
        "unknown key": signed_request(http, Keyed(shop.merchant_id, "mk_live_" + "1" * 24,
                                                  shop.secret), "GET", ME),
        "wrong mac": signed_request(http, Keyed(shop.merchant_id, shop.key_id, other.secret),
                                    "GET", ME),
    }  # fmt: skip
    execute(clean_database, "UPDATE merchant_api_keys SET revoked_at = now() WHERE key_id = %(k)s",
            {"k": shop.key_id})  # fmt: skip
    answers["revoked key"] = signed_request(http, shop, "GET", ME)
    execute(clean_database, "UPDATE merchants SET status = 'suspended' WHERE id = %(id)s",
            {"id": other.merchant_id})  # fmt: skip
    answers["suspended merchant"] = signed_request(http, other, "GET", ME)

    for name, response in answers.items():
        assert_refused(response, DOES_NOT_VERIFY), name
    assert len({r.text for r in answers.values()}) == 1  # nothing tells them apart
    assert key_row(clean_database, shop.key_id)["last_used_at"] is None
    assert key_row(clean_database, other.key_id)["last_used_at"] is None


def test_a_signature_is_accepted_once_and_refused_as_a_replay(http, shop, clean_database):
    headers = signed_headers(shop.key_id, shop.secret, "GET", ME)
    assert http.get(ME, headers=headers).status_code == 200
    replay = http.get(ME, headers=headers)
    assert_refused(replay)
    assert "used before" in replay.json()["detail"]
    # A new signature of the very same request (a new t) is a new request.
    later = signed_headers(shop.key_id, shop.secret, "GET", ME, timestamp=int(time.time()) + 1)
    assert http.get(ME, headers=later).status_code == 200


def test_a_revoked_key_stops_at_once(http, shop, clean_database, live_settings):
    assert signed_request(http, shop, "GET", ME).status_code == 200
    token = live_settings.admin_token.get_secret_value()
    revoked = http.post(
        f"/api/v1/admin/merchants/{shop.merchant_id}/keys/{shop.key_id}/revoke",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert revoked.status_code == 200, revoked.text
    assert_refused(signed_request(http, shop, "GET", ME), DOES_NOT_VERIFY)


def test_an_oversized_body_is_413_before_any_signature_work(http, shop, live_settings):
    body = b"x" * (live_settings.api_max_body_bytes + 1)
    response = signed_request(http, shop, "GET", ME, body=body)
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "payload_too_large"


def test_without_redis_a_signature_is_never_accepted(shop, live_settings):
    """The replay guard cannot be asked: 503, never a request let in unchecked."""
    port = free_port()
    dead = live_settings.model_copy(update={"port": port, "redis_url": "redis://127.0.0.1:9/0"})
    with LiveServer(create_app(dead), port) as server, httpx.Client(base_url=server.url) as http:
        response = signed_request(http, shop, "GET", ME)
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "service_unavailable"


def test_last_used_at_is_written_at_most_once_a_minute(http, shop, clean_database):
    assert signed_request(http, shop, "GET", ME).status_code == 200
    first = key_row(clean_database, shop.key_id)["last_used_at"]
    assert signed_request(http, shop, "GET", ME + "?again=1").status_code == 200
    assert key_row(clean_database, shop.key_id)["last_used_at"] == first  # no write

    execute(clean_database, "UPDATE merchant_api_keys SET last_used_at = now() - interval"
            " '61 seconds' WHERE key_id = %(k)s", {"k": shop.key_id})  # fmt: skip
    stale = key_row(clean_database, shop.key_id)["last_used_at"]
    assert signed_request(http, shop, "GET", ME + "?again=2").status_code == 200
    assert key_row(clean_database, shop.key_id)["last_used_at"] > stale


def test_a_key_secret_never_reaches_the_logs(http, live_settings, clean_database, caplog):
    caplog.set_level(logging.DEBUG)
    token = live_settings.admin_token.get_secret_value()
    admin = {"Authorization": f"Bearer {token}"}
    onboarded = http.post("/api/v1/admin/merchants", json=onboard_body(), headers=admin).json()
    issued = http.post(f"/api/v1/admin/merchants/{onboarded['id']}/keys", headers=admin).json()
    keyed = Keyed(onboarded["id"], issued["key_id"], issued["secret"])
    assert signed_request(http, keyed, "GET", ME).status_code == 200
    assert_refused(signed_request(http, Keyed(keyed.merchant_id, keyed.key_id, "mks_x"), "GET", ME))
    http.post(f"/api/v1/admin/merchants/{keyed.merchant_id}/keys/{keyed.key_id}/revoke",
              headers=admin)  # fmt: skip

    captured = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert keyed.key_id in captured, "nothing was logged: the check would prove nothing"
    assert keyed.secret not in captured and keyed.secret[4:] not in captured
