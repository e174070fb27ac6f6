"""GET /metrics over real HTTP: the counters move with what PayTrace does (requests by
route template, USSD hops by screen and outcome, ledger movements by kind once
committed, a replayed hop), and the figures read from PostgreSQL equal what the test
counts in the tables itself. Counters are per process and other tests share it, so
each check compares before and after."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from app.api.app import create_app
from tests.conftest import LiveServer, free_port
from tests.e2e.at_gateway import AtGateway
from tests.support.mpesa import one
from tests.support.pwa import Pwa

JANE, PIN = "+254711000901", "4821"


def scrape(url: str, **headers: str) -> dict[tuple[str, tuple], float]:
    answer = httpx.get(f"{url}/metrics", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counters_follow_requests_hops_and_committed_movements(
    live_server, live_settings, clean_database
):
    before = scrape(live_server.url)
    pwa = Pwa(live_server.url, live_settings, clean_database)
    pwa.register(JANE, "Jane Wanjiku", PIN)
    admin = {"Authorization": f"Bearer {live_settings.admin_token.get_secret_value()}"}
    cashed = httpx.post(
        f"{live_server.url}/api/v1/admin/cash-in",
        json={"phone": JANE, "amount": 500_00, "reference": "metrics-1"},
        headers=admin,
        timeout=10,
    )
    assert cashed.status_code == 201, cashed.text
    phone = AtGateway(live_server.url, JANE)
    phone.dial()
    phone.hop()  # AT's retry: answered from the store
    pwa.close()

    after = scrape(live_server.url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"route": "/api/v1/admin/cash-in", "method": "POST", "status": "201"}
    assert delta("paytrace_http_requests_total", **route) == 1
    assert delta("paytrace_http_request_seconds_count", route="/api/v1/admin/cash-in") == 1
    assert delta("paytrace_ledger_movements_total", kind="cash_in") == 1
    assert delta("paytrace_ussd_hops_total", screen="-", outcome="replay") == 1
    hops = sum(
        v - value(before, name, **dict(labels))
        for (name, labels), v in after.items()
        if name == "paytrace_ussd_hops_total" and dict(labels)["outcome"] == "con"
    )
    assert hops == 1
    assert delta("paytrace_ussd_hop_seconds_count") == 2
    # An unrouted path is one series, whatever was asked.
    httpx.get(f"{live_server.url}/no/such/thing/123", timeout=10)
    later = scrape(live_server.url)
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert value(later, "paytrace_http_requests_total", **unmatched) >= 1
    assert not any("123" in str(labels) for _, labels in later)


def test_figures_read_from_postgresql_equal_the_tables(live_server, live_settings, clean_database):
    pwa = Pwa(live_server.url, live_settings, clean_database)
    for n in range(3):
        assert pwa.ask_code(f"+25471100095{n}", "register").status_code == 202
    pwa.close()
    samples = scrape(live_server.url)

    (pending,) = one(
        clean_database,
        "SELECT count(*) FROM outbox WHERE kind = 'sms' AND status = 'pending'"
        " AND available_at <= now()",
    )
    assert pending == 3
    assert value(samples, "paytrace_outbox_pending", kind="sms") == pending
    assert value(samples, "paytrace_outbox_oldest_pending_seconds", kind="sms") >= 0
    (open_settlements,) = one(
        clean_database, "SELECT count(*) FROM stellar_settlements WHERE status <> 'settled'"
    )
    assert value(samples, "paytrace_settlements_open") == open_settlements


def test_metrics_need_the_token_when_set_and_are_absent_in_production_without(
    live_settings, clean_database
):
    guarded = live_settings.model_copy(update={"metrics_token": SecretStr("m" * 40)})
    with LiveServer(create_app(guarded), guarded.port) as server:
        assert httpx.get(f"{server.url}/metrics", timeout=10).status_code == 401
        wrong = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401
        assert scrape(server.url, Authorization=f"Bearer {'m' * 40}")
    # Production without a token: no such route (volumes are business figures).
    bare = live_settings.model_copy(update={"environment": "production", "metrics_token": None})
    with LiveServer(create_app(bare), bare.port) as server:
        hidden = httpx.get(f"{server.url}/metrics", timeout=10)
        assert (hidden.status_code, hidden.json()["error"]) == (404, "not_found")


def test_outbox_and_settlement_figures_read_the_primary_never_the_replica(
    live_settings, clean_database
):
    """A replica lags, and an outbox that looks emptier than it is hides a stuck worker:
    /metrics reads the primary even when DATABASE_REPLICA_URL is set. Here the replica
    is down (nothing listens on its port): what reads it fails, the figures do not."""
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/paytrace"
    with_replica = live_settings.model_copy(update={"database_replica_url": down})
    with LiveServer(create_app(with_replica), with_replica.port) as server:
        pwa = Pwa(server.url, with_replica, clean_database)
        tokens = pwa.register(JANE, "Jane Wanjiku", PIN)
        for n in range(2):
            assert pwa.ask_code(f"+25471100096{n}", "register").status_code == 202
        # The history reads the replica: it is really in use, and really down.
        history = pwa.http.get("/wallet/transactions", headers=Pwa.bearer(tokens))
        assert history.status_code == 503, history.text
        pwa.close()
        samples = scrape(server.url)

    (pending,) = one(
        clean_database,
        "SELECT count(*) FROM outbox WHERE kind = 'sms' AND status = 'pending'"
        " AND available_at <= now()",
    )
    assert pending >= 2
    assert value(samples, "paytrace_outbox_pending", kind="sms") == pending
    (open_settlements,) = one(
        clean_database, "SELECT count(*) FROM stellar_settlements WHERE status <> 'settled'"
    )
    assert value(samples, "paytrace_settlements_open") == open_settlements
