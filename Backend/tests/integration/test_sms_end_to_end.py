"""SMS over real HTTP: outbox -> worker -> official AT SDK -> local AT sandbox ->
delivery report -> sms_messages."""

from __future__ import annotations

import time

import httpx
import pytest

from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.integrations.sms import AfricasTalkingSms
from app.services.notifications import queue_sms
from app.worker.handlers import HandlerRegistry, SmsHandler
from app.worker.outbox import OutboxWorker, build_worker

PHONE = "+254711000001"


@pytest.fixture
def worker_db(live_settings):
    database = Database(live_settings.database_url, max_connections=4)
    yield database
    database.close()


def queue(database, to: str = PHONE) -> int:
    with UnitOfWork(database) as uow:
        outbox_id = queue_sms(
            uow, to=to, template="pin_changed", language="en", dedupe_key=f"e2e:{to}"
        )
        uow.commit()
    return outbox_id


def outbox_status(database, outbox_id: int) -> str:
    with UnitOfWork(database) as uow:
        return uow.outbox.get(outbox_id).status


def wait_for_sms_status(database, outbox_id: int, wanted: str, timeout_s: float = 5.0):
    deadline = time.monotonic() + timeout_s
    while True:
        with UnitOfWork(database) as uow:
            message = uow.sms.get_by_outbox_id(outbox_id)
        if (message and message.status == wanted) or time.monotonic() > deadline:
            return message
        time.sleep(0.05)


def inbox(server, to: str | None = None) -> list[dict]:
    response = httpx.get(f"{server.url}/sandbox/sms", params={"to": to} if to else None)
    assert response.status_code == 200
    return response.json()


def eager_worker(settings, database) -> OutboxWorker:
    """The real adapter, retrying at once instead of after a backoff."""
    sms = AfricasTalkingSms.from_settings(settings)
    return OutboxWorker(database, HandlerRegistry(SmsHandler(sms)), backoff=lambda n: 0.0)


def test_queued_sms_reaches_the_sandbox_once_and_is_delivered(
    live_server, live_settings, worker_db
):
    outbox_id = queue(worker_db)
    worker = build_worker(live_settings, worker_db)
    assert worker.run_once() == 1
    assert worker.run_once() == 0

    [message] = inbox(live_server, to=PHONE)
    assert message["message"].startswith("PayTrace: your PIN was changed.")
    assert message["id"].startswith("ATXid_")
    assert outbox_status(worker_db, outbox_id) == "done"

    delivered = wait_for_sms_status(worker_db, outbox_id, "delivered")
    assert delivered.status == "delivered"
    assert delivered.provider_message_id == message["id"]
    assert delivered.network_code == "63902"
    assert inbox(live_server, to=PHONE)[0]["status"] == "Success"


def test_invalid_number_is_failed_without_retry_and_never_delivered(
    live_server, live_settings, worker_db
):
    outbox_id = queue(worker_db, to="+254711000403")
    worker = eager_worker(live_settings, worker_db)
    worker.run_once()
    worker.run_once()
    assert outbox_status(worker_db, outbox_id) == "failed"
    with UnitOfWork(worker_db) as uow:
        logged = uow.sms.get_by_outbox_id(outbox_id)
    assert (logged.status, logged.status_code, logged.failure_reason) == (
        "rejected",
        403,
        "InvalidPhoneNumber",
    )
    assert inbox(live_server, to="+254711000403") == []


def test_gateway_500_is_retried_and_the_sms_arrives_once(live_server, live_settings, worker_db):
    outbox_id = queue(worker_db, to="+254711000500")
    worker = eager_worker(live_settings, worker_db)
    for _ in range(4):
        worker.run_once()
    with UnitOfWork(worker_db) as uow:
        assert uow.outbox.get(outbox_id).attempts == 3
    assert outbox_status(worker_db, outbox_id) == "done"
    assert len(inbox(live_server, to="+254711000500")) == 1


def test_read_timeout_is_unknown_and_not_resent_although_at_got_it(
    live_server, live_settings, worker_db
):
    hasty = live_settings.model_copy(update={"at_timeout_s": 0.3})
    outbox_id = queue(worker_db, to="+254711000408")
    worker = eager_worker(hasty, worker_db)
    worker.run_once()
    worker.run_once()
    assert outbox_status(worker_db, outbox_id) == "unknown"
    # Exactly why a read timeout is never retried: the sandbox (like AT) accepted it
    # (on a busy machine, perhaps only after the worker stopped waiting).
    deadline = time.monotonic() + 5
    while not inbox(live_server, to="+254711000408") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(inbox(live_server, to="+254711000408")) == 1


def test_failed_delivery_report_marks_the_sms_failed(live_server, live_settings, worker_db):
    outbox_id = queue(worker_db, to="+254711000410")
    build_worker(live_settings, worker_db).run_once()
    failed = wait_for_sms_status(worker_db, outbox_id, "failed")
    assert (failed.status, failed.failure_reason) == ("failed", "AbsentSubscriber")


def test_sandbox_speaks_at_wire_format_and_requires_an_api_key(live_server):
    url = f"{live_server.url}/sandbox/at/version1/messaging"
    form = {"username": "sandbox", "to": "+254711000002,+254711000403", "message": "hi"}
    assert httpx.post(url, data=form).status_code == 401
    response = httpx.post(url, data=form, headers={"apiKey": "any"})
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"  # the SDK checks exactly
    data = response.json()["SMSMessageData"]
    assert data["Message"] == "Sent to 1/2 Total Cost: KES 0.8000"
    ok, bad = data["Recipients"]
    assert (ok["statusCode"], ok["status"], ok["cost"]) == (101, "Success", "KES 0.8000")
    assert (bad["statusCode"], bad["status"], bad["messageId"]) == (
        403,
        "InvalidPhoneNumber",
        "None",
    )
    assert [m["to"] for m in inbox(live_server)] == ["+254711000002"]


def test_sandbox_is_a_tagged_dev_tool_and_absent_with_a_real_at_key(live_settings):
    from app.api.app import create_app

    dev = create_app(live_settings).openapi()["paths"]
    assert dev["/sandbox/sms"]["get"]["tags"] == ["sandbox"]
    assert "Development tool" in dev["/sandbox/at/version1/messaging"]["post"]["description"]
    real = create_app(live_settings.model_copy(update={"at_api_key": "real"})).openapi()["paths"]
    assert not [path for path in real if path.startswith("/sandbox")]
    assert "/callbacks/at/sms-delivery" in real
