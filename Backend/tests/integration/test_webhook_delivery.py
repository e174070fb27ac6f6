"""Webhook delivery over real HTTP to a local receiver, on PostgreSQL: a receiver that
fails, times out and recovers gets every event at least once, in order per object,
each verifiable with the endpoint's secret; one that never recovers has its endpoint
disabled after three (time-travelled) days, with an SMS to the merchant; two workers
claiming at once never send one delivery twice inside a lease."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from app.db.unit_of_work import UnitOfWork
from app.domain import webhooks as rules
from app.integrations.webhook_http import HttpWebhookSender
from app.services import merchants, webhooks
from app.services.custody import SecretBox
from app.worker.webhooks import WebhookDispatcher
from tests.security.admin_audit_world import query
from tests.support.merchants import application
from tests.support.webhooks import Clock, receiver

TIMEOUT_S = 0.3


@pytest.fixture
def box(settings) -> SecretBox:
    return SecretBox.from_settings(settings)


@pytest.fixture
def merchant_id(clean_database) -> int:
    return merchants.onboard(UnitOfWork(clean_database), application()).merchant.id


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


def endpoint(database, box, merchant_id, url, key="k1") -> webhooks.NewEndpoint:
    return webhooks.create_endpoint(
        UnitOfWork(database), box, merchant_id, url, key, production=False
    )


def emit(database, merchant_id, event_type, data, now) -> str:
    uow = UnitOfWork(database)
    with uow:
        event = webhooks.emit(uow, merchant_id, event_type, data, now=now)
        uow.commit()
    return event.public_id


def dispatcher(database, box, clock, batch_size=20, concurrency=1) -> WebhookDispatcher:
    """One at a time by default, so that the receiver numbers requests as they were sent."""
    sender = HttpWebhookSender(timeout_s=TIMEOUT_S, production=False)
    return WebhookDispatcher(database, box, sender, timeout_s=TIMEOUT_S, batch_size=batch_size,
                             concurrency=concurrency, clock=clock)  # fmt: skip


def open_deliveries(database) -> int:
    return query(
        database,
        "SELECT count(*) FROM merchant_webhook_deliveries WHERE status IN ('pending', 'failed')",
    )[0][0]


def next_due(database) -> datetime:
    return query(
        database,
        "SELECT min(next_attempt_at) FROM merchant_webhook_deliveries"
        " WHERE status IN ('pending', 'failed')",
    )[0][0]


def test_a_receiver_that_fails_times_out_and_recovers_gets_every_event_in_order(
    clean_database, box, merchant_id, clock
):
    # Request 0: 500, 1: held past the timeout, 2: 503, then 200 for good.
    script = {0: 500, 1: ("sleep", TIMEOUT_S * 4), 2: 503}
    with receiver(lambda n: script.get(n, 200)) as rx:
        made = endpoint(clean_database, box, merchant_id, rx.url)
        sent = []
        for step in range(3):
            for order in (1, 2):
                snapshot = {"object": "order", "id": order, "step": step, "amount": 25_000}
                event_type = ("order.paid", "order.expired", "order.canceled")[step]
                sent.append(emit(clean_database, merchant_id, event_type, snapshot, clock.now))
        worker = dispatcher(clean_database, box, clock)
        for _ in range(40):
            worker.run_once()
            if open_deliveries(clean_database) == 0:
                break
            clock.advance(timedelta(seconds=10))  # the first retry's delay: no sleeping
        assert open_deliveries(clean_database) == 0

    delivered = set()
    steps_seen = defaultdict(list)
    for got in rx.received:
        event = got.event
        # Verifiable with the endpoint's secret, as docs/merchants.md verifies it.
        signed_at = int(got.headers["paytrace-signature"].split(",")[0].removeprefix("t="))
        assert rules.verify(made.secret, got.headers["paytrace-signature"], got.body, signed_at)
        assert not rules.verify("whsec_wrong", got.headers["paytrace-signature"], got.body,
                                signed_at)  # fmt: skip
        assert got.headers["paytrace-event-id"] == event["id"]
        assert got.headers["content-type"] == "application/json"
        steps_seen[event["data"]["id"]].append(event["data"]["step"])
        delivered.add(event["id"])
    assert delivered == set(sent)  # every event at least once
    for order, steps in steps_seen.items():
        assert steps == sorted(steps), (order, steps)  # never a later step before an earlier
    # The log keeps every attempt: 3 failures (500, timeout, 503), then one 2xx per event.
    attempts = query(clean_database, "SELECT status_code, error FROM merchant_webhook_attempts"
                                     " ORDER BY id")  # fmt: skip
    assert len(attempts) == len(sent) + 3
    assert [a[0] for a in attempts[:3]] == [500, None, 503]
    assert attempts[1][1].startswith("timeout")
    (status,) = query(clean_database, "SELECT failing_since FROM merchant_webhook_endpoints")[0]
    assert status is None  # recovered: the failing clock is stopped


def test_a_later_event_of_an_object_waits_for_the_earlier_one(
    clean_database, box, merchant_id, clock
):
    with receiver(lambda n: 500 if n == 0 else 200) as rx:
        endpoint(clean_database, box, merchant_id, rx.url)
        paid = emit(
            clean_database, merchant_id, "order.paid", {"object": "order", "id": 7}, clock.now
        )
        expired = emit(clean_database, merchant_id, "order.expired", {"object": "order", "id": 7},
                       clock.now)  # fmt: skip
        other = emit(
            clean_database, merchant_id, "order.paid", {"object": "order", "id": 8}, clock.now
        )
        worker = dispatcher(clean_database, box, clock)
        worker.run_once()  # order 7's first event fails; order 8's goes; 7's second waits
        assert [r.event["id"] for r in rx.received] == [paid, other]
        worker.run_once()
        assert len(rx.received) == 2  # nothing due: the retry is 10 s away, 7's second waits
        clock.advance(timedelta(seconds=10))
        worker.run_once()  # the retry succeeds; the second is due only at the next claim
        worker.run_once()
        assert [r.event["id"] for r in rx.received] == [paid, other, paid, expired]


def test_a_receiver_that_never_recovers_gets_its_endpoint_disabled_after_three_days(
    clean_database, box, merchant_id, clock
):
    start = clock.now
    with receiver(lambda n: 503) as rx:
        made = endpoint(clean_database, box, merchant_id, rx.url)
        emit(clean_database, merchant_id, "order.paid", {"object": "order", "id": 1}, clock.now)
        worker = dispatcher(clean_database, box, clock)
        attempts = 0
        while attempts < 30:
            worker.run_once()
            attempts += 1
            (status,) = query(clean_database, "SELECT status FROM merchant_webhook_endpoints")[0]
            if status == "disabled":
                break
            # A second object's event on day 2: it waits too, and is abandoned with it.
            if attempts == 8:
                emit(clean_database, merchant_id, "order.paid", {"object": "order", "id": 2},
                     clock.now)  # fmt: skip
            clock.now = next_due(clean_database)
    assert clock.now - start >= rules.GIVE_UP_AFTER
    assert clock.now - start < rules.GIVE_UP_AFTER + rules.RETRY_EVERY
    endpoint_row = query(clean_database, "SELECT status, disabled_reason FROM"
                                         " merchant_webhook_endpoints")[0]  # fmt: skip
    assert endpoint_row == ("disabled", "failing")
    assert {row[0] for row in query(clean_database,
            "SELECT status FROM merchant_webhook_deliveries")} == {"abandoned"}  # fmt: skip
    sms = query(clean_database, "SELECT payload FROM outbox WHERE kind = 'sms'")
    assert len(sms) == 1
    assert sms[0][0]["to"] == application().contact_phone.replace("07", "+2547", 1)
    assert sms[0][0]["template"] == "webhook_endpoint_disabled"
    assert str(made.endpoint.id) in sms[0][0]["message"]
    # Disabled: a new event queues nothing for it, and nothing is sent any more.
    before = len(rx.received)
    emit(clean_database, merchant_id, "order.paid", {"object": "order", "id": 3}, clock.now)
    assert open_deliveries(clean_database) == 0
    assert worker.run_once() == 0
    assert len(rx.received) == before


def test_two_workers_claiming_at_once_never_send_a_delivery_twice(
    clean_database, box, merchant_id, clock
):
    with receiver(lambda n: ("sleep", 0.05)) as rx:
        endpoint(clean_database, box, merchant_id, rx.url)
        sent = {
            emit(clean_database, merchant_id, "order.paid", {"object": "order", "id": i}, clock.now)
            for i in range(24)
        }
        workers = [dispatcher(clean_database, box, clock, batch_size=5, concurrency=3)
                   for _ in range(2)]  # fmt: skip
        barrier = threading.Barrier(2)
        errors = []

        def run(worker) -> None:
            try:
                barrier.wait()
                while worker.run_once():
                    pass
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors
    ids = [r.event["id"] for r in rx.received]
    assert sorted(ids) == sorted(sent)  # each exactly once
    assert len(ids) == len(set(ids))


def test_a_lease_keeps_a_delivery_from_a_second_claim_until_it_ends(
    clean_database, box, merchant_id, clock
):
    from app.services import webhook_delivery

    endpoint(clean_database, box, merchant_id, "http://127.0.0.1:9/never")
    emit(clean_database, merchant_id, "order.paid", {"object": "order", "id": 1}, clock.now)
    lease = timedelta(seconds=60)
    first = webhook_delivery.claim_due(UnitOfWork(clean_database), box, now=clock.now, limit=5,
                                       lease=lease)  # fmt: skip
    assert len(first) == 1
    again = webhook_delivery.claim_due(UnitOfWork(clean_database), box,
                                       now=clock.now + lease - timedelta(seconds=1), limit=5,
                                       lease=lease)  # fmt: skip
    assert again == []
    # A worker that died: the lease ends, another worker takes the delivery.
    later = webhook_delivery.claim_due(UnitOfWork(clean_database), box, now=clock.now + lease,
                                       limit=5, lease=lease)  # fmt: skip
    assert [o.claimed.id for o in later] == [first[0].claimed.id]
    assert later[0].claimed.lease_token != first[0].claimed.lease_token
    # The first worker's late answer is logged but does not settle the delivery.
    from app.integrations.webhook_http import SendResult

    outcome = webhook_delivery.record_outcome(
        UnitOfWork(clean_database), first[0].claimed, SendResult(200, 5, None), clock.now
    )
    assert outcome == "lost"
    assert open_deliveries(clean_database) == 1


def test_emit_writes_in_the_callers_transaction_and_nothing_without_its_commit(
    clean_database, box, merchant_id, clock
):
    endpoint(clean_database, box, merchant_id, "http://127.0.0.1:9/h")
    uow = UnitOfWork(clean_database)
    with uow:
        webhooks.emit(uow, merchant_id, "order.paid", {"object": "order", "id": 1})
        # no commit: the caller's change failed, so its event never existed
    assert query(clean_database, "SELECT count(*) FROM merchant_events")[0][0] == 0
    assert open_deliveries(clean_database) == 0
    with pytest.raises(ValueError), uow:
        webhooks.emit(uow, merchant_id, "order.teleported", {"object": "order", "id": 1})
    emit(clean_database, merchant_id, "refund.succeeded", {"object": "refund", "id": 3}, clock.now)
    (object_id, payload) = query(clean_database, "SELECT object_id, payload FROM merchant_events")[
        0
    ]
    assert (object_id, payload) == ("refund:3", {"object": "refund", "id": 3})
    assert open_deliveries(clean_database) == 1


def test_in_production_the_sender_refuses_a_host_that_resolves_inside(clean_database):
    with receiver(lambda n: 200) as rx:
        sender = HttpWebhookSender(timeout_s=1, production=True)
        result = sender.post(rx.url.replace("127.0.0.1", "localhost"), b"{}", {})
        assert result.status_code is None and "not public" in (result.error or "")
        assert rx.received == []  # never contacted


def test_a_redirect_is_a_failure_not_followed(clean_database, box, merchant_id, clock):
    with receiver(lambda n: 302) as rx:
        endpoint(clean_database, box, merchant_id, rx.url)
        emit(clean_database, merchant_id, "order.paid", {"object": "order", "id": 1}, clock.now)
        dispatcher(clean_database, box, clock).run_once()
        assert len(rx.received) == 1
    (status, code) = query(clean_database, "SELECT status, last_status_code FROM"
                                           " merchant_webhook_deliveries")[0]  # fmt: skip
    assert (status, code) == ("failed", 302)


def test_every_worker_runs_the_webhook_loop_and_it_delivers_until_stopped(
    settings, clean_database, box, merchant_id
):
    from app.worker import loops as worker_loops

    (loop,) = [
        loop
        for loop in worker_loops.build_loops(settings, clean_database)
        if loop.name == "webhooks"
    ]
    with receiver(lambda n: 200) as rx:
        endpoint(clean_database, box, merchant_id, rx.url)
        sent = emit(clean_database, merchant_id, "order.paid", {"object": "order", "id": 1},
                    datetime.now(UTC))  # fmt: skip
        stop = threading.Event()
        thread = threading.Thread(target=loop.run_forever, args=(stop,))
        thread.start()
        try:
            for _ in range(100):
                if rx.received:
                    break
                stop.wait(0.05)
        finally:
            stop.set()
            thread.join(timeout=15)
    assert not thread.is_alive()
    assert [r.event["id"] for r in rx.received] == [sent]


class TickingClock(Clock):
    """Each reading is 100 s after the previous one: a slow batch, compressed."""

    def __call__(self):
        now = self.now
        self.advance(timedelta(seconds=100))
        return now


def test_each_delivery_is_signed_when_it_is_sent_not_when_its_batch_was_claimed(
    clean_database, box, merchant_id
):
    clock = TickingClock(datetime.now(UTC).replace(microsecond=0))
    with receiver(lambda n: 200) as rx:
        made = endpoint(clean_database, box, merchant_id, rx.url)
        for order in (1, 2):
            emit(clean_database, merchant_id, "order.paid", {"object": "order", "id": order},
                 clock.now)  # fmt: skip
        claimed_at = int(clock.now.timestamp())
        assert dispatcher(clean_database, box, clock).run_once() == 2
    stamps = []
    for got in rx.received:
        header = got.headers["paytrace-signature"]
        stamps.append(int(header.split(",")[0].removeprefix("t=")))
        assert rules.verify(made.secret, header, got.body, stamps[-1])
    # Read 1: the claim; 2: the first signature; 3: its outcome; 4: the second signature.
    assert stamps == [claimed_at + 100, claimed_at + 300]
