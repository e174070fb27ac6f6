"""AT's SMS delivery reports over real HTTP: idempotent, forward-only, token-checked."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from pydantic import SecretStr

from app.api.app import create_app
from app.db.unit_of_work import UnitOfWork
from app.integrations.sms import FakeSms
from app.services.notifications import queue_sms
from app.worker.handlers import HandlerRegistry, SmsHandler
from app.worker.outbox import OutboxWorker, build_worker
from tests.conftest import LiveServer

PHONE = "+254711000001"
TOKEN = "cb-token-123"


def sent_sms(database) -> int:
    """Queue one SMS and let a worker hand it to a fake AT (message id 'fake-1')."""
    with UnitOfWork(database) as uow:
        outbox_id = queue_sms(
            uow, to=PHONE, template="pin_changed", language="en", dedupe_key="cb:1"
        )
        uow.commit()
    OutboxWorker(database, HandlerRegistry(SmsHandler(FakeSms()))).run_once()
    return outbox_id


def sms_status(database, outbox_id: int) -> tuple[str, str | None]:
    with UnitOfWork(database) as uow:
        message = uow.sms.get_by_outbox_id(outbox_id)
    return message.status, message.failure_reason


def report(url: str, path: str = "/callbacks/at/sms-delivery", **form: str) -> httpx.Response:
    form = {"id": "fake-1", "phoneNumber": PHONE, "networkCode": "63902", **form}
    return httpx.post(url + path, data=form)


def test_delivery_report_marks_delivered_and_a_repeat_changes_nothing(live_server, database):
    outbox_id = sent_sms(database)
    first = report(live_server.url, status="Success")
    assert (first.status_code, first.json()) == (200, {"status": "delivered"})
    again = report(live_server.url, status="Success")
    assert (again.status_code, again.json()) == (200, {"status": "delivered"})
    assert sms_status(database, outbox_id) == ("delivered", None)


def test_late_sent_report_never_undoes_delivered(live_server, database):
    outbox_id = sent_sms(database)
    report(live_server.url, status="Buffered")
    assert sms_status(database, outbox_id) == ("sent", None)
    report(live_server.url, status="Success")
    report(live_server.url, status="Sent")
    report(live_server.url, status="Failed", failureReason="AbsentSubscriber")
    assert sms_status(database, outbox_id) == ("delivered", None)


def test_rejected_report_marks_failed_with_at_reason(live_server, database):
    outbox_id = sent_sms(database)
    report(live_server.url, status="Rejected", failureReason="UserInBlacklist")
    assert sms_status(database, outbox_id) == ("failed", "UserInBlacklist")


def test_report_for_unknown_message_is_acknowledged_and_changes_nothing(
    live_server, database, caplog
):
    outbox_id = sent_sms(database)
    with caplog.at_level(logging.WARNING, logger="paytrace.callbacks"):
        response = report(live_server.url, id="ATXid_never_sent", status="Success")
        assert (response.status_code, response.json()) == (200, {"status": "ignored"})
    assert sms_status(database, outbox_id) == ("submitted", None)
    assert any("unknown message" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ("status=Success", {"content-type": "application/x-www-form-urlencoded"}),
        ("id=fake-1&status=Exploded", {"content-type": "application/x-www-form-urlencoded"}),
        ('{"id": "fake-1", "status": "Success"}', {"content-type": "application/json"}),
        ("", {}),
    ],
)
def test_malformed_delivery_report_gets_400_json(live_server, database, body, headers):
    outbox_id = sent_sms(database)
    response = httpx.post(
        f"{live_server.url}/callbacks/at/sms-delivery", content=body, headers=headers
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_callback"
    assert response.json()["detail"]
    assert sms_status(database, outbox_id) == ("submitted", None)


@pytest.fixture
def token_server(live_settings):
    settings = live_settings.model_copy(update={"at_callback_token": SecretStr(TOKEN)})
    with LiveServer(create_app(settings), settings.port) as server:
        yield server, settings


def test_callback_token_is_enforced_when_configured(token_server, database):
    server, _ = token_server
    outbox_id = sent_sms(database)
    for path in ("/callbacks/at/sms-delivery", "/callbacks/at/sms-delivery/wrong-token"):
        refused = report(server.url, path, status="Success")
        assert refused.status_code == 403
        assert refused.json()["error"] == "forbidden"
    assert sms_status(database, outbox_id) == ("submitted", None)
    accepted = report(server.url, f"/callbacks/at/sms-delivery/{TOKEN}", status="Success")
    assert accepted.status_code == 200
    assert sms_status(database, outbox_id) == ("delivered", None)


def test_sandbox_delivery_report_carries_the_configured_token(token_server, database):
    _, settings = token_server
    with UnitOfWork(database) as uow:
        outbox_id = queue_sms(
            uow, to=PHONE, template="pin_changed", language="en", dedupe_key="cb:tok"
        )
        uow.commit()
    build_worker(settings, database).run_once()
    deadline = time.monotonic() + 5
    while sms_status(database, outbox_id)[0] != "delivered" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sms_status(database, outbox_id) == ("delivered", None)
