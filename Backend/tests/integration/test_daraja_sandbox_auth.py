"""The local Daraja sandbox's gate, over real HTTP: OAuth tokens that expire, bearer
tokens on every call, the STK password, and Daraja-shaped refusals."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from app.sandboxes.daraja import SandboxConfig
from tests.support.daraja import CallbackReceiver, DarajaClient, daraja_sandbox

PHONE = "254711000001"


def assert_daraja_error(answer, status: int, code: str, message: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"requestId", "errorCode", "errorMessage"}
    assert body["requestId"]
    assert (body["errorCode"], body["errorMessage"]) == (code, message)


def test_the_consumer_key_and_secret_buy_a_token_for_3599_seconds(daraja, receiver):
    answer = daraja.oauth()
    assert answer.status_code == 200
    body = answer.json()
    assert body["expires_in"] == "3599"
    assert len(body["access_token"]) == 28 and body["access_token"].isalnum()
    pushed = daraja.stk_push(PHONE, 10, receiver.url("/stk"))
    assert pushed.status_code == 200, pushed.text


def test_each_call_for_a_token_gets_a_new_one(daraja):
    assert daraja.oauth().json()["access_token"] != daraja.oauth().json()["access_token"]


@pytest.mark.parametrize(
    ("key", "secret"),
    [("paytrace-sandbox-consumer-key", "wrong-secret"), ("someone-else", "x")],
)
def test_wrong_app_credentials_buy_no_token(daraja, key, secret):
    assert_daraja_error(
        daraja.oauth(key, secret), 400, "400.008.01", "Invalid Authentication passed"
    )


@pytest.mark.parametrize(
    "authorization", [None, "Bearer abc", "Basic", "Basic not-base64!", "Basic bm9jb2xvbg=="]
)
def test_no_basic_credentials_buy_no_token(daraja, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    answer = daraja.http.get(
        "/oauth/v1/generate", params={"grant_type": "client_credentials"}, headers=headers
    )
    assert_daraja_error(answer, 400, "400.008.01", "Invalid Authentication passed")


@pytest.mark.parametrize("params", [{}, {"grant_type": "password"}])
def test_a_grant_type_other_than_client_credentials_is_refused(daraja, params):
    answer = daraja.http.get("/oauth/v1/generate", params=params)
    assert_daraja_error(answer, 400, "400.008.02", "Invalid grant type passed")


def test_an_api_call_without_a_bearer_token_is_refused(daraja, receiver):
    body = daraja.stk_body(PHONE, 10, receiver.url("/stk"))
    answer = daraja.http.post("/mpesa/stkpush/v1/processrequest", json=body)
    assert_daraja_error(answer, 401, "404.001.04", "Invalid Authentication Header")


@pytest.mark.parametrize(
    "path",
    [
        "/mpesa/stkpush/v1/processrequest",
        "/mpesa/stkpushquery/v1/query",
        "/mpesa/b2c/v3/paymentrequest",
        "/mpesa/b2c/v1/paymentrequest",
        "/mpesa/transactionstatus/v1/query",
    ],
)
def test_a_token_the_sandbox_never_issued_is_refused_on_every_api(daraja, path):
    answer = daraja.post(path, {}, token="SGWcJPtNtYNPGm6uSYR9yPYrAI3B")
    assert_daraja_error(answer, 401, "404.001.03", "Invalid Access Token")


def test_a_token_is_refused_once_it_has_expired(tmp_path):
    with CallbackReceiver() as receiver, daraja_sandbox(tmp_path, token_ttl_s=1) as server:
        daraja = DarajaClient(server.url)
        assert daraja.oauth().json()["expires_in"] == "1"
        assert daraja.stk_push(PHONE, 10, receiver.url("/stk")).status_code == 200
        time.sleep(1.1)
        expired = daraja.stk_push(PHONE, 10, receiver.url("/stk"))
        assert_daraja_error(expired, 401, "404.001.03", "Invalid Access Token")
        fresh = daraja.post(
            "/mpesa/stkpush/v1/processrequest",
            daraja.stk_body(PHONE, 10, receiver.url("/stk")),
            token=daraja.oauth().json()["access_token"],
        )
        assert fresh.status_code == 200


def test_the_sandbox_can_expire_every_token_at_once(tmp_path):
    with CallbackReceiver() as receiver, daraja_sandbox(tmp_path) as server:
        daraja = DarajaClient(server.url)
        assert daraja.stk_push(PHONE, 10, receiver.url("/stk")).status_code == 200
        assert daraja.http.post("/sandbox/tokens/expire").status_code == 204
        answer = daraja.stk_push(PHONE, 10, receiver.url("/stk"))
        assert_daraja_error(answer, 401, "404.001.03", "Invalid Access Token")


def test_an_stk_push_with_a_wrong_password_is_refused(daraja, receiver):
    answer = daraja.stk_push(PHONE, 10, receiver.url("/stk"), Password="d3Jvbmc=")
    assert_daraja_error(answer, 500, "500.001.1001", "Wrong credentials")


def test_an_stk_push_without_a_password_is_refused(daraja, receiver):
    answer = daraja.stk_push(PHONE, 10, receiver.url("/stk"), Password="")
    assert_daraja_error(answer, 400, "400.002.02", "Bad Request - Invalid Password")


def test_the_password_is_bound_to_its_own_timestamp(daraja, receiver):
    body = daraja.stk_body(PHONE, 10, receiver.url("/stk"))
    # A second earlier, same password (as a time, so that :00 goes back to :59).
    stamp = datetime.strptime(body["Timestamp"], "%Y%m%d%H%M%S") - timedelta(seconds=1)
    body["Timestamp"] = stamp.strftime("%Y%m%d%H%M%S")
    answer = daraja.post("/mpesa/stkpush/v1/processrequest", body)
    assert_daraja_error(answer, 500, "500.001.1001", "Wrong credentials")


def test_a_password_made_with_another_passkey_is_refused(receiver, sandbox_url):
    other = DarajaClient(sandbox_url, SandboxConfig(passkey="not-the-sandbox-passkey"))
    answer = other.stk_push(PHONE, 10, receiver.url("/stk"))
    assert_daraja_error(answer, 500, "500.001.1001", "Wrong credentials")


def test_an_stk_query_with_a_wrong_password_is_refused(daraja, receiver):
    pushed = daraja.stk_push(PHONE, 10, receiver.url("/stk")).json()
    answer = daraja.stk_query(pushed["CheckoutRequestID"], Password="d3Jvbmc=")
    assert_daraja_error(answer, 500, "500.001.1001", "Wrong credentials")


def test_another_business_shortcode_is_refused(daraja, receiver):
    answer = daraja.stk_push(PHONE, 10, receiver.url("/stk"), BusinessShortCode="600000")
    assert_daraja_error(answer, 400, "400.002.02", "Bad Request - Invalid BusinessShortCode")


def test_unknown_paths_and_methods_answer_in_daraja_s_shape(daraja):
    assert_daraja_error(daraja.http.get("/mpesa/nothing"), 404, "404.002.01", "Resource not found")
    answer = daraja.http.get("/mpesa/stkpush/v1/processrequest")
    assert_daraja_error(answer, 405, "405.001.01", "Method Not Allowed")
