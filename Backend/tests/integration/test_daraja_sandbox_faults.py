"""The sandbox's faults (POST /sandbox/faults): the next answer of one API is a
Daraja error body, a held answer, or lost after the request was processed; a paid
STK callback comes without its metadata. In Daraja's shapes, over real HTTP."""

from __future__ import annotations

import secrets
import time

import httpx
import pytest

from app.sandboxes.daraja.identifiers import daraja_time
from tests.support.daraja import DarajaClient


def fault(daraja: DarajaClient, **spec: object) -> httpx.Response:
    return daraja.http.post("/sandbox/faults", json=spec)


@pytest.fixture(autouse=True)
def _no_faults_left(daraja):
    yield
    assert daraja.http.delete("/sandbox/faults").status_code == 204


@pytest.mark.parametrize(
    ("kind", "status", "code"), [("http_400", 400, "400.002.02"), ("http_500", 500, "500.003.02")]
)
def test_an_stk_query_fault_answers_in_darajas_error_shape_once(
    daraja, receiver, phone, kind, status, code
):
    pushed = daraja.stk_push(phone, 10, receiver.url(f"/stk/{secrets.token_hex(4)}")).json()
    assert fault(daraja, api="stk_query", fault=kind).status_code == 201

    answer = daraja.stk_query(pushed["CheckoutRequestID"])

    assert answer.status_code == status
    assert set(answer.json()) == {"requestId", "errorCode", "errorMessage"}
    assert answer.json()["errorCode"] == code
    assert daraja.http.get("/sandbox/faults").json() == []  # used up


def test_a_held_answer_outlasts_the_callers_timeout(daraja, receiver, phone):
    pushed = daraja.stk_push(phone, 10, receiver.url(f"/stk/{secrets.token_hex(4)}")).json()
    fault(daraja, api="stk_query", fault="timeout", delay_s=1.0)
    stamp = daraja_time(time.time())
    body = {
        "BusinessShortCode": daraja.config.shortcode,
        "Password": daraja.config.stk_password(stamp),
        "Timestamp": stamp,
        "CheckoutRequestID": pushed["CheckoutRequestID"],
    }
    with pytest.raises(httpx.ReadTimeout):
        daraja.http.post(
            "/mpesa/stkpushquery/v1/query",
            json=body,
            headers={"Authorization": f"Bearer {daraja.token()}"},
            timeout=0.3,
        )


def test_a_b2c_lost_after_sending_is_still_paid_and_called_back(daraja, receiver, phone):
    tag = secrets.token_hex(4)
    fault(daraja, api="b2c", fault="http_500", after_send=True)
    answer = daraja.b2c(phone, 50, receiver.url(f"/r/{tag}"), receiver.url(f"/t/{tag}"))
    assert answer.status_code == 500 and answer.json()["errorCode"] == "500.003.02"
    [result] = receiver.wait_for(f"/r/{tag}")
    assert result["Result"]["ResultCode"] == 0  # M-Pesa had it and paid


def test_a_paid_stk_callback_without_metadata(daraja, receiver, phone):
    path = f"/stk/{secrets.token_hex(4)}"
    fault(daraja, api="stk_callback", fault="no_metadata")
    assert daraja.stk_push(phone, 10, receiver.url(path)).status_code == 200
    [callback] = receiver.wait_for(path)
    assert callback["Body"]["stkCallback"]["ResultCode"] == 0
    assert "CallbackMetadata" not in callback["Body"]["stkCallback"]


@pytest.mark.parametrize(
    "spec",
    [
        {"api": "stk_callback", "fault": "http_500"},
        {"api": "b2c", "fault": "no_metadata"},
        {"api": "nope", "fault": "timeout"},
        {"api": "b2c", "fault": "timeout", "count": 0},
        {"api": "b2c", "fault": "timeout", "delay_s": -1},
        [],
    ],
)
def test_a_fault_it_cannot_make_is_refused(daraja, spec):
    answer = (
        fault(daraja, **spec)
        if isinstance(spec, dict)
        else daraja.http.post("/sandbox/faults", json=spec)
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_scenario"
