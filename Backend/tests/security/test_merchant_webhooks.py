"""The webhook routes of the merchant API over real HTTP, PostgreSQL and Redis, signed as
docs/merchants.md says: endpoints (the secret shown once, stored encrypted), ping,
events (paging, acknowledging), deliveries and redelivery; another merchant's ids are
404 exactly like ids that do not exist; hostile URLs refused; the secret never logged."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from app.db.unit_of_work import UnitOfWork
from app.integrations.webhook_http import HttpWebhookSender
from app.logging_setup import JsonFormatter
from app.services import webhooks
from app.services.custody import SecretBox
from app.worker.webhooks import WebhookDispatcher
from tests.security.admin_audit_world import query
from tests.support.merchants import Keyed, fresh_timestamp, keyed_merchant, signed_request
from tests.support.webhooks import receiver

BASE = "/api/v1/merchant"


@pytest.fixture
def http(live_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


@pytest.fixture
def shop(clean_database, live_settings) -> Keyed:
    return keyed_merchant(clean_database, live_settings)


@pytest.fixture
def rival(clean_database, live_settings) -> Keyed:
    return keyed_merchant(clean_database, live_settings, till="612345")


def call(http, who: Keyed, method: str, path: str, body: dict | None = None, key: str | None = "k",
         **extra: str) -> httpx.Response:  # fmt: skip
    raw = json.dumps(body).encode() if body is not None else b""
    headers = {"Content-Type": "application/json", **extra}
    if method == "POST" and key is not None:
        headers["Idempotency-Key"] = key
    t = fresh_timestamp(who.key_id, method, BASE + path, raw)
    return signed_request(http, who, method, BASE + path, raw, timestamp=t, headers=headers)


def create(http, who, url="http://127.0.0.1:9/hooks", key="create-1") -> httpx.Response:
    return call(http, who, "POST", "/webhook-endpoints", {"url": url}, key=key)


def test_an_endpoint_is_created_with_a_secret_shown_once_and_stored_encrypted(
    http, shop, clean_database
):
    made = create(http, shop)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["secret"].startswith("whsec_") and body["status"] == "enabled"
    assert made.headers["cache-control"] == "no-store"
    # A retry with the same key answers the same endpoint and secret; no second row.
    again = create(http, shop)
    assert again.status_code == 201 and again.json() == body
    assert again.headers["idempotent-replayed"] == "true"
    other = create(http, shop, url="http://127.0.0.1:10/hooks")
    assert (other.status_code, other.json()["error"]) == (409, "idempotency_key_reused")
    rows = query(clean_database, "SELECT to_jsonb(e)::text FROM merchant_webhook_endpoints e")
    assert len(rows) == 1 and body["secret"] not in rows[0][0]
    listed = call(http, shop, "GET", "/webhook-endpoints")
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()["data"]] == [body["id"]]
    assert "secret" not in listed.text and body["secret"] not in listed.text


def test_a_post_without_an_idempotency_key_is_refused(http, shop):
    response = call(http, shop, "POST", "/webhook-endpoints", {"url": "http://127.0.0.1:9/"},
                    key=None)  # fmt: skip
    assert (response.status_code, response.json()["error"]) == (400, "idempotency_key_required")


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example.com/hooks",
        "ftp://127.0.0.1/hooks",
        "http://user:pw@127.0.0.1:9/hooks",
        "http://10.0.0.5/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost:9/hooks",
        "file:///etc/passwd",
        "https://x.example.com/" + "a" * 2100,
        "",
    ],
)
def test_hostile_urls_are_refused_and_store_nothing(http, shop, clean_database, url):
    response = create(http, shop, url=url)
    assert response.status_code == 422, response.text
    assert response.json()["error"] in ("invalid_url", "validation_failed")
    assert query(clean_database, "SELECT count(*) FROM merchant_webhook_endpoints")[0][0] == 0


def test_production_refuses_private_and_link_local_hosts_even_over_https(
    clean_database, settings, shop
):
    box = SecretBox.from_settings(settings)
    for url in ("https://10.1.2.3/h", "https://169.254.169.254/h", "https://[::1]/h",
                "http://127.0.0.1:9/h", "https://localhost/h"):  # fmt: skip
        with pytest.raises(Exception) as refused:
            webhooks.create_endpoint(UnitOfWork(clean_database), box, shop.merchant_id, url,
                                     "k", production=True)  # fmt: skip
        assert getattr(refused.value, "code", None) == "invalid_url", url


def test_another_merchants_endpoint_and_event_are_404_like_missing_ones(
    http, shop, rival, clean_database
):
    theirs = create(http, rival).json()["id"]
    event = call(http, rival, "POST", f"/webhook-endpoints/{theirs}/ping", key="p1").json()["id"]
    missing_endpoint, missing_event = theirs + 1000, "evt_" + "0" * 24
    for action in ("disable", "enable", "ping"):
        mine = call(http, shop, "POST", f"/webhook-endpoints/{theirs}/{action}", key=action)
        none = call(http, shop, "POST", f"/webhook-endpoints/{missing_endpoint}/{action}",
                    key=action + "x")  # fmt: skip
        assert mine.status_code == 404, mine.text
        assert mine.json() == none.json()
    for method, suffix in (("POST", "acknowledge"), ("GET", "deliveries"), ("POST", "redeliver")):
        mine = call(http, shop, method, f"/events/{event}/{suffix}", key="e" + suffix)
        none = call(http, shop, method, f"/events/{missing_event}/{suffix}", key="n" + suffix)
        assert mine.status_code == 404, mine.text
        assert mine.json() == none.json()
    assert call(http, shop, "GET", "/events").json()["data"] == []
    assert call(http, shop, "GET", "/webhook-endpoints").json()["data"] == []
    # Nothing of the rival's changed.
    rows = query(
        clean_database,
        "SELECT e.status, v.acknowledged_at FROM merchant_webhook_endpoints e, merchant_events v",
    )
    assert rows == [("enabled", None)]


def test_disable_enable_ping_acknowledge_and_page_events(http, shop, clean_database):
    endpoint = create(http, shop).json()["id"]
    pinged = call(http, shop, "POST", f"/webhook-endpoints/{endpoint}/ping", key="ping-1")
    assert pinged.status_code == 202 and pinged.json()["type"] == "ping"
    replay = call(http, shop, "POST", f"/webhook-endpoints/{endpoint}/ping", key="ping-1")
    assert replay.json()["id"] == pinged.json()["id"]
    for n in range(4):  # emitted by a service in its own transaction
        uow = UnitOfWork(clean_database)
        with uow:
            webhooks.emit(uow, shop.merchant_id, "order.paid", {"object": "order", "id": n})
            uow.commit()
    first = call(http, shop, "GET", "/events?limit=3").json()
    assert [e["type"] for e in first["data"]] == ["ping", "order.paid", "order.paid"]
    rest = call(http, shop, "GET", f"/events?limit=3&cursor={first['next_cursor']}").json()
    assert len(rest["data"]) == 2 and rest["next_cursor"] is None
    bad = call(http, shop, "GET", "/events?cursor=junk")
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_cursor")
    ping_id = pinged.json()["id"]
    acked = call(http, shop, "POST", f"/events/{ping_id}/acknowledge", key="a1")
    assert acked.status_code == 200 and acked.json()["acknowledged_at"] is not None
    unacked = call(http, shop, "GET", "/events?unacknowledged=true").json()["data"]
    assert ping_id not in [e["id"] for e in unacked] and len(unacked) == 4
    # Disabled: open deliveries abandoned, a ping refused; enabled again: pings go.
    off = call(http, shop, "POST", f"/webhook-endpoints/{endpoint}/disable", key="d1").json()
    assert (off["status"], off["disabled_reason"]) == ("disabled", "merchant")
    refused = call(http, shop, "POST", f"/webhook-endpoints/{endpoint}/ping", key="ping-2")
    assert (refused.status_code, refused.json()["error"]) == (409, "endpoint_disabled")
    statuses = {r[0] for r in query(clean_database, "SELECT status FROM"
                                    " merchant_webhook_deliveries")}  # fmt: skip
    assert statuses == {"abandoned"}
    on = call(http, shop, "POST", f"/webhook-endpoints/{endpoint}/enable", key="e1").json()
    assert (on["status"], on["disabled_reason"]) == ("enabled", None)
    # Every POST's key is kept with its answer: the disable's key on an enable is refused.
    reused = call(http, shop, "POST", f"/webhook-endpoints/{endpoint}/enable", key="d1")
    assert (reused.status_code, reused.json()["error"]) == (409, "idempotency_key_reused")
    again = call(http, shop, "POST", f"/webhook-endpoints/{endpoint}/disable", key="d1")
    assert again.headers["idempotent-replayed"] == "true" and again.json() == off


def test_deliveries_show_each_attempt_and_redeliver_sends_again(
    http, shop, clean_database, live_settings, caplog
):
    caplog.set_level(logging.DEBUG)
    box = SecretBox.from_settings(live_settings)
    with receiver(lambda n: 500 if n == 0 else 200) as rx:
        made = create(http, shop, url=rx.url).json()
        event = call(http, shop, "POST", f"/webhook-endpoints/{made['id']}/ping", key="p").json()
        sender = HttpWebhookSender(timeout_s=2, production=False)
        worker = WebhookDispatcher(clean_database, box, sender, timeout_s=2)
        worker.run_once()
        log = call(http, shop, "GET", f"/events/{event['id']}/deliveries").json()
        (delivery,) = log["deliveries"]
        assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
            "failed", 1, 500)  # fmt: skip
        assert delivery["log"][0]["status_code"] == 500
        assert delivery["log"][0]["latency_ms"] >= 0
        again = call(http, shop, "POST", f"/events/{event['id']}/redeliver", key="r1")
        assert again.status_code == 202
        assert again.json()["deliveries"][0]["status"] == "pending"
        worker.run_once()  # due now: the redelivery does not wait for the backoff
        done = call(http, shop, "GET", f"/events/{event['id']}/deliveries").json()
        (delivery,) = done["deliveries"]
        assert (delivery["status"], delivery["last_status_code"]) == ("delivered", 200)
        assert [a["status_code"] for a in delivery["log"]] == [500, 200]
        assert len(rx.received) == 2
    # The secret was in one answer; never in a log record, whatever was logged.
    formatter = JsonFormatter()
    text = "\n".join(formatter.format(record) for record in caplog.records)
    assert made["secret"] not in text
    assert made["secret"] not in caplog.text
