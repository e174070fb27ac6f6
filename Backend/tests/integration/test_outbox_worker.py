"""The outbox worker against real PostgreSQL: claimed once, sent at most once, settled right."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from app.db.unit_of_work import UnitOfWork
from app.integrations.sms import FakeSms, SmsAmbiguous
from app.services.notifications import queue_sms
from app.worker.handlers import HandlerRegistry, SmsHandler
from app.worker.outbox import OutboxWorker

PHONE = "+254711000001"


def queue(database, to: str = PHONE, key: str | None = None) -> int:
    with UnitOfWork(database) as uow:
        outbox_id = queue_sms(
            uow, to=to, template="pin_changed", language="en", dedupe_key=key or f"test:{to}"
        )
        uow.commit()
    return outbox_id


def row(database, outbox_id: int):
    with UnitOfWork(database) as uow:
        return uow.outbox.get(outbox_id)


def sms_log(database, outbox_id: int):
    with UnitOfWork(database) as uow:
        return uow.sms.get_by_outbox_id(outbox_id)


def make_worker(database, sms, **options) -> OutboxWorker:
    options.setdefault("backoff", lambda attempt: 0.0)
    return OutboxWorker(database, HandlerRegistry(SmsHandler(sms)), **options)


def test_claim_skips_rows_another_worker_holds(clean_database):
    first, second = queue(clean_database, key="a"), queue(clean_database, key="b")
    with UnitOfWork(clean_database) as one, UnitOfWork(clean_database) as two:
        assert [r.id for r in one.outbox.claim(kinds=["sms"])] == [first]
        assert [r.id for r in two.outbox.claim(kinds=["sms"])] == [second]
        with UnitOfWork(clean_database) as three:
            assert three.outbox.claim(kinds=["sms"]) == []


def test_sms_is_sent_once_and_at_message_id_recorded(clean_database):
    fake = FakeSms()
    outbox_id = queue(clean_database)
    worker = make_worker(clean_database, fake)
    assert worker.run_once() == 1
    assert worker.run_once() == 0
    assert fake.calls == [(PHONE, row(clean_database, outbox_id).payload["message"])]
    assert row(clean_database, outbox_id).status == "done"
    logged = sms_log(clean_database, outbox_id)
    assert (logged.status, logged.provider_message_id, logged.status_code) == (
        "submitted",
        "fake-1",
        101,
    )


class SlowSms(FakeSms):
    """A FakeSms that takes a moment, so two workers really overlap."""

    def send(self, message, recipients):
        time.sleep(0.002)
        return super().send(message, recipients)


def test_two_concurrent_workers_never_send_a_row_twice(clean_database):
    numbers = [f"+2547110{i:05d}" for i in range(40)]
    for number in numbers:
        queue(clean_database, to=number)
    fake = SlowSms()
    start = threading.Barrier(2)
    processed = []

    def work() -> None:
        worker = make_worker(clean_database, fake)
        start.wait()
        while count := worker.run_once(limit=3):
            processed.append(count)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    sends = Counter(number for number, _ in fake.calls)
    assert sends == Counter(numbers)  # every number exactly once
    assert sum(processed) == 40
    with UnitOfWork(clean_database) as uow:
        assert uow.outbox.count_by_status() == {"done": 40}


def test_at_500_is_retried_later_with_backoff(clean_database):
    fake = FakeSms()
    fake.script(PHONE, 500)
    outbox_id = queue(clean_database)
    worker = make_worker(clean_database, fake, backoff=lambda attempt: 30.0 * attempt)
    assert worker.run_once() == 1
    pending = row(clean_database, outbox_id)
    assert (pending.status, pending.attempts) == ("pending", 1)
    assert "500" in pending.last_error
    assert pending.available_at > datetime.now(UTC) + timedelta(seconds=25)
    assert worker.run_once() == 0  # not due yet
    assert len(fake.calls) == 1


def test_at_500_then_success_sends_once_more_and_is_done(clean_database):
    fake = FakeSms()
    fake.script(PHONE, 500, 502)
    outbox_id = queue(clean_database)
    worker = make_worker(clean_database, fake)
    for _ in range(4):
        worker.run_once()
    done = row(clean_database, outbox_id)
    assert (done.status, done.attempts, len(fake.calls)) == ("done", 3, 3)


def test_retryable_failure_gives_up_after_max_attempts(clean_database):
    fake = FakeSms()
    fake.script(PHONE, *[502] * 10)
    outbox_id = queue(clean_database)
    worker = make_worker(clean_database, fake, max_attempts=3)
    for _ in range(5):
        worker.run_once()
    failed = row(clean_database, outbox_id)
    assert (failed.status, failed.attempts, len(fake.calls)) == ("failed", 3, 3)
    assert failed.last_error.startswith("gave up after 3 attempts")


def test_invalid_number_403_fails_at_once_and_is_logged_as_rejected(clean_database):
    fake = FakeSms()
    fake.script(PHONE, 403)
    outbox_id = queue(clean_database)
    worker = make_worker(clean_database, fake)
    worker.run_once()
    worker.run_once()
    assert row(clean_database, outbox_id).status == "failed"
    assert len(fake.calls) == 1
    logged = sms_log(clean_database, outbox_id)
    assert (logged.status, logged.status_code, logged.provider_message_id) == (
        "rejected",
        403,
        None,
    )


def test_read_timeout_marks_unknown_and_never_resends(clean_database):
    fake = FakeSms()
    fake.script(PHONE, SmsAmbiguous("read timeout"))
    outbox_id = queue(clean_database)
    worker = make_worker(clean_database, fake)
    worker.run_once()
    worker.run_once()
    assert row(clean_database, outbox_id).status == "unknown"
    assert len(fake.calls) == 1


def test_row_left_sending_by_crashed_worker_becomes_unknown_not_resent(clean_database, caplog):
    outbox_id = queue(clean_database)
    with UnitOfWork(clean_database) as uow:  # a worker claims, commits, then dies
        [claimed] = uow.outbox.claim(kinds=["sms"])
        uow.outbox.mark_sending(claimed.id, worker="dead-worker", lease_s=0)
        uow.commit()
    fake = FakeSms()
    with caplog.at_level(logging.ERROR, logger="paytrace.worker"):
        assert make_worker(clean_database, fake).run_once() == 0
    stuck = row(clean_database, outbox_id)
    assert stuck.status == "unknown"
    assert "dead-worker" in stuck.last_error
    assert fake.calls == []
    assert any(getattr(r, "outbox_id", None) == outbox_id for r in caplog.records)


def test_row_still_within_its_lease_is_left_alone(clean_database):
    outbox_id = queue(clean_database)
    with UnitOfWork(clean_database) as uow:
        uow.outbox.mark_sending(outbox_id, worker="busy-worker", lease_s=60)
        uow.commit()
    assert make_worker(clean_database, FakeSms()).run_once() == 0
    assert row(clean_database, outbox_id).status == "sending"


class ReclaimedMidCall(FakeSms):
    """While this send is in flight, another worker finds the lease expired."""

    def __init__(self, other: OutboxWorker) -> None:
        super().__init__()
        self.other = other

    def send(self, message, recipients):
        self.other.reclaim_stale()
        return super().send(message, recipients)


def test_late_outcome_never_overwrites_an_operator_unknown(clean_database):
    outbox_id = queue(clean_database)
    other = make_worker(clean_database, FakeSms())
    sms = ReclaimedMidCall(other)
    slow = make_worker(clean_database, sms, lease_s=0)
    slow.run_once()
    assert row(clean_database, outbox_id).status == "unknown"
    # AT's message id is still kept, so its delivery report finds the message.
    assert sms_log(clean_database, outbox_id).provider_message_id == "fake-1"


class BrokenSms(FakeSms):
    def send(self, message, recipients):
        raise RuntimeError("bug in the middle of a call")


def test_unexpected_error_mid_send_is_unknown_not_retried(clean_database):
    outbox_id = queue(clean_database)
    worker = make_worker(clean_database, BrokenSms())
    assert worker.run_once() == 1
    assert worker.run_once() == 0
    assert row(clean_database, outbox_id).status == "unknown"
