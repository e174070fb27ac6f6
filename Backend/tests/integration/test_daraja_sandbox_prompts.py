"""STK prompts that wait for the customer (the `ask` scenario) on the local Daraja
sandbox over real HTTP: the prompt listed on its phone, the query "being processed"
meanwhile, then accepted with the M-PESA PIN, with a wrong PIN, cancelled, or left to
time out as M-Pesa times it out (1037)."""

from __future__ import annotations

import secrets
import time

import pytest

from app.sandboxes.daraja.config import DEFAULT_CUSTOMER_PIN
from tests.support.daraja import DarajaClient, daraja_sandbox

QUIET_S = 0.4  # past the 0.1 s callback delay: what has not come will not


@pytest.fixture
def path() -> str:
    return f"/mpesa/stk/{secrets.token_hex(4)}"


def ask(daraja: DarajaClient, receiver, path: str, phone: str, amount: int = 500) -> str:
    daraja.scenario(phone=phone, result="ask", api="stk")
    answer = daraja.stk_push(phone, amount, receiver.url(path))
    assert answer.status_code == 200, answer.text
    return answer.json()["CheckoutRequestID"]


def waiting(daraja: DarajaClient, phone: str) -> list[dict]:
    answer = daraja.http.get("/sandbox/prompts", params={"phone": phone})
    assert answer.status_code == 200, answer.text
    return answer.json()["prompts"]


def reply(daraja: DarajaClient, checkout: str, **body: str):
    return daraja.http.post(f"/sandbox/prompts/{checkout}", json=body)


def result_of(body: dict) -> int:
    return body["Body"]["stkCallback"]["ResultCode"]


def test_the_prompt_waits_for_the_pin_and_the_push_is_paid_when_accepted(
    daraja, receiver, path, phone
):
    checkout = ask(daraja, receiver, path, phone, 500)
    [prompt] = waiting(daraja, phone)
    assert prompt["checkout_request_id"] == checkout
    assert (prompt["amount"], prompt["business"]) == (500, "PAYTRACE SANDBOX")
    assert 50 <= prompt["expires_in_s"] <= 60
    time.sleep(QUIET_S)
    assert receiver.received(path) == []  # nothing decided while the customer thinks
    query = daraja.stk_query(checkout)
    assert query.status_code == 500
    assert query.json()["errorMessage"] == "The transaction is being processed"

    answer = reply(daraja, checkout, answer="accept", pin=DEFAULT_CUSTOMER_PIN)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["result"], answer.json()["result_code"]) == ("success", 0)
    [body] = receiver.wait_for(path)
    assert result_of(body) == 0
    items = {
        i["Name"]: i.get("Value") for i in body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    }
    assert items["Amount"] == 500
    assert daraja.stk_query(checkout).json()["ResultCode"] == "0"
    assert waiting(daraja, phone) == []
    # Answered once: a second answer changes nothing.
    assert reply(daraja, checkout, answer="cancel").status_code == 409
    time.sleep(QUIET_S)
    assert len(receiver.received(path)) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [({"answer": "cancel"}, 1032), ({"answer": "accept", "pin": "9999"}, 2001)],
)
def test_a_cancelled_prompt_or_a_wrong_pin_ends_the_push(daraja, receiver, path, phone, body, code):
    checkout = ask(daraja, receiver, path, phone)
    assert reply(daraja, checkout, **body).json()["result_code"] == code
    assert result_of(receiver.wait_for(path)[0]) == code
    assert daraja.stk_query(checkout).json()["ResultCode"] == str(code)


def test_answers_the_sandbox_cannot_take_are_refused(daraja, receiver, path, phone):
    checkout = ask(daraja, receiver, path, phone)
    assert reply(daraja, checkout, answer="accept").status_code == 400  # no PIN
    assert reply(daraja, checkout, answer="accept", pin="12a4").status_code == 400
    assert reply(daraja, checkout, answer="maybe").status_code == 400
    assert reply(daraja, "ws_CO_nothing", answer="cancel").status_code == 404
    assert daraja.http.get("/sandbox/prompts", params={"phone": "0712"}).status_code == 422
    assert [p["checkout_request_id"] for p in waiting(daraja, phone)] == [checkout]
    bad = daraja.http.post(
        "/sandbox/scenarios", json={"phone": phone, "result": "ask", "api": "b2c"}
    )
    assert bad.status_code == 400


def test_a_prompt_nobody_answers_times_out_as_m_pesa_does(tmp_path, receiver, path, phone):
    with daraja_sandbox(tmp_path, prompt_timeout_s=0.6) as server:
        daraja = DarajaClient(server.url)
        checkout = ask(daraja, receiver, path, phone)
        assert len(waiting(daraja, phone)) == 1
        [body] = receiver.wait_for(path)
        assert body["Body"]["stkCallback"]["ResultCode"] == 1037
        assert body["Body"]["stkCallback"]["ResultDesc"] == "DS timeout user cannot be reached"
        assert waiting(daraja, phone) == []
        assert daraja.stk_query(checkout).json()["ResultCode"] == "1037"
        late = reply(daraja, checkout, answer="accept", pin=DEFAULT_CUSTOMER_PIN)
        assert late.status_code == 409
