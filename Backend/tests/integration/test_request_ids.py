"""One id follows a request from the API into the worker: the X-Request-ID the API
answers is on the outbox rows the request wrote, and the worker performs each row
under that id (its logs, and whatever it calls, see it)."""

from __future__ import annotations

import httpx

from app.db.unit_of_work import UnitOfWork
from app.infra.request_context import current_request_id
from app.integrations.sms import FakeSms
from app.services.keys import SmsSeal
from app.services.notifications import queue_sms
from app.worker.handlers import HandlerRegistry, SmsHandler
from app.worker.outbox import OutboxWorker
from tests.support.mpesa import rows

PHONE = "+254711000777"


class WatchingSms(FakeSms):
    """Sends nothing; notes the request id in force when each message goes."""

    def __init__(self) -> None:
        super().__init__()
        self.request_ids: list[str | None] = []

    def send(self, message, recipients):
        self.request_ids.append(current_request_id.get())
        return super().send(message, recipients)


def ask_code(live_server, **headers: str) -> httpx.Response:
    answer = httpx.post(
        f"{live_server.url}/api/v1/auth/otp",
        json={"phone": PHONE, "purpose": "register"},
        headers=headers,
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    return answer


def test_the_callers_request_id_reaches_the_outbox_row_and_the_worker(
    live_server, live_settings, clean_database
):
    answer = ask_code(live_server, **{"X-Request-ID": "pwa-7f3a9c2e-0001"})
    assert answer.headers["X-Request-ID"] == "pwa-7f3a9c2e-0001"
    assert rows(clean_database, "SELECT kind, request_id FROM outbox") == [
        ("sms", "pwa-7f3a9c2e-0001")
    ]

    sms = WatchingSms()
    handler = SmsHandler(sms, seal=SmsSeal.from_settings(live_settings))  # codes are sealed
    OutboxWorker(clean_database, HandlerRegistry(handler)).run_once()

    assert sms.request_ids == ["pwa-7f3a9c2e-0001"]
    assert current_request_id.get() is None  # the scope ended with the row


def test_a_request_without_an_id_gets_one_and_its_rows_carry_it(live_server, clean_database):
    answer = ask_code(live_server, **{"X-Request-ID": "bad id with spaces"})
    given = answer.headers["X-Request-ID"]
    assert given != "bad id with spaces" and len(given) == 32
    assert rows(clean_database, "SELECT request_id FROM outbox") == [(given,)]


def test_rows_written_outside_any_request_have_no_id(clean_database):
    with UnitOfWork(clean_database) as uow:
        queue_sms(uow, to=PHONE, template="pin_changed", language="en", dedupe_key="no-request")
        uow.commit()
    assert rows(clean_database, "SELECT request_id FROM outbox") == [(None,)]
