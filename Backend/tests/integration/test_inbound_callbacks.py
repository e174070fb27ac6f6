"""Every inbound callback - M-Pesa's and Africa's Talking's - is stored as it arrived,
refused and malformed ones too, before anything acts on it; an operator lists them
with `GET /api/v1/admin/callbacks`; one whose processing failed is processed again by
the worker."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from app.api.app import create_app
from app.db.unit_of_work import UnitOfWork
from app.services import inbound_callbacks
from app.services.mpesa.deposits import DepositRequest, request_deposit
from tests.conftest import LiveServer
from tests.support.mpesa import mpesa_rig, rows, stk_paid_body
from tests.support.wallets import phone_of, register, registration_secrets

AT_TOKEN = "at-callback-token-1"
JANE = phone_of(1)


@pytest.fixture
def server(live_settings):
    settings = live_settings.model_copy(update={"at_callback_token": SecretStr(AT_TOKEN)})
    with LiveServer(create_app(settings), settings.port) as server:
        yield server, settings


def admin(settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}


def listed(server, settings, **params) -> dict:
    answer = httpx.get(
        f"{server.url}/api/v1/admin/callbacks", params=params, headers=admin(settings)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_every_callback_is_listed_newest_first_with_path_body_verification_and_outcome(server):
    server, settings = server
    mpesa_token = settings.mpesa_callback_token.get_secret_value()
    form = {"id": "ATXid_1", "status": "Success", "phoneNumber": JANE}
    httpx.post(f"{server.url}/callbacks/at/sms-delivery/{AT_TOKEN}", data=form)
    httpx.post(f"{server.url}/callbacks/at/sms-delivery/guess", data=form)
    httpx.post(f"{server.url}/callbacks/mpesa/b2c/result/{mpesa_token}", content=b"{oops")

    page = listed(server, settings)

    assert [(i["provider"], i["kind"], i["verification"], i["outcome"]) for i in page["items"]] == [
        ("mpesa", "b2c_result", "token_matched", "malformed"),
        ("at", "sms_delivery", "token_mismatch", "rejected"),
        ("at", "sms_delivery", "token_matched", "ignored"),
    ]
    malformed, refused, report = page["items"]
    assert malformed["path"] == "/callbacks/mpesa/b2c/result/***" and malformed["body"] == "{oops"
    assert refused["path"] == "/callbacks/at/sms-delivery/***"
    assert report["reference"] == "ATXid_1" and "status=Success" in report["body"]
    assert report["content_type"] == "application/x-www-form-urlencoded"
    assert report["processed_at"] is not None and page["next_cursor"] is None
    # No token ever reaches the listing.
    text = httpx.get(f"{server.url}/api/v1/admin/callbacks", headers=admin(settings)).text
    assert mpesa_token not in text and AT_TOKEN not in text and "guess" not in text


def test_the_listing_filters_and_pages(server):
    server, settings = server
    for n in range(5):
        httpx.post(
            f"{server.url}/callbacks/at/sms-delivery/{AT_TOKEN}",
            data={"id": f"ATXid_{n}", "status": "Failed"},
        )
    first = listed(server, settings, limit=2, provider="at")
    second = listed(server, settings, limit=2, cursor=first["next_cursor"])
    third = listed(server, settings, limit=2, cursor=second["next_cursor"])
    ids = [i["reference"] for page in (first, second, third) for i in page["items"]]
    assert ids == [f"ATXid_{n}" for n in (4, 3, 2, 1, 0)] and third["next_cursor"] is None
    one = listed(server, settings, reference="ATXid_3")["items"]
    assert [i["reference"] for i in one] == ["ATXid_3"]
    assert listed(server, settings, provider="mpesa")["items"] == []
    assert listed(server, settings, outcome="ignored")["items"] != []


def test_the_listing_needs_the_admin_token_and_refuses_a_forged_cursor(server):
    server, settings = server
    url = f"{server.url}/api/v1/admin/callbacks"
    assert httpx.get(url).status_code == 401
    forged = httpx.get(url, params={"cursor": "bm9wZQ"}, headers=admin(settings))
    assert forged.status_code == 422 and forged.json()["error"] == "invalid_cursor"


def test_a_callback_whose_processing_failed_is_processed_again_by_the_worker(
    live_settings, database, tmp_path
):
    with mpesa_rig(live_settings, database, tmp_path) as rig:
        box, pin_hash = registration_secrets(rig.settings)
        user_id = register(database, box, pin_hash, phone=JANE)
        rig.sandbox.scenario(phone=JANE[1:], result="success", callback="none", api="stk")
        deposit = request_deposit(
            UnitOfWork(database), DepositRequest(user_id, 10_000, "k", "api"), query_after_s=60
        ).deposit
        checkout = rig.until(lambda: rig.deposit(deposit.reference)[1])
        # Stored, then the process died before acting on it (as receive() alone leaves it).
        callback_id = inbound_callbacks.receive(
            UnitOfWork(database),
            provider="mpesa",
            kind="stk",
            path="/callbacks/mpesa/stk/***",
            query=f"deposit={deposit.reference}",
            content_type="application/json",
            body=httpx.Request("POST", "/", json=stk_paid_body(checkout, 100, JANE[1:])).content,
            verification="token_matched",
        )
        with UnitOfWork(database) as uow:
            uow.conn.cursor().execute(
                "UPDATE inbound_callbacks SET received_at = now() - interval '2 minutes'"
            )
            uow.commit()

        rig.checker.run_once()

        [(outcome,)] = rows(
            database, "SELECT outcome FROM inbound_callbacks WHERE id = %(i)s", i=callback_id
        )
        assert outcome == "confirming"  # processed again; M-Pesa is then asked
        rig.until(lambda: rig.deposit(deposit.reference)[0] == "completed")
