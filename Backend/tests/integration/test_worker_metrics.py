"""The worker's own /metrics port over real HTTP: the same rule as the API's /metrics
(tests/integration/test_metrics.py): METRICS_TOKEN as a bearer token when set, nothing
in production without one."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from app.worker.__main__ import serve_metrics
from tests.conftest import free_port

TOKEN = "w" * 40


def test_the_worker_s_metrics_need_the_token_when_set(settings):
    guarded = settings.model_copy(
        update={"metrics_token": SecretStr(TOKEN), "worker_metrics_port": free_port()}
    )
    server = serve_metrics(guarded)
    assert server is not None
    try:
        url = f"http://127.0.0.1:{guarded.worker_metrics_port}/metrics"
        bare = httpx.get(url, timeout=10)
        assert bare.status_code == 401
        assert bare.json()["error"] == "unauthorized"
        assert httpx.get(url, headers={"Authorization": "Bearer x"}, timeout=10).status_code == 401
        right = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert right.status_code == 200
        assert "paytrace_outbox_rows" in right.text
    finally:
        server.shutdown()
        server.server_close()


def test_the_worker_s_metrics_are_absent_in_production_without_a_token(settings):
    bare = settings.model_copy(
        update={"environment": "production", "metrics_token": None,
                "worker_metrics_port": free_port()}
    )  # fmt: skip
    server = serve_metrics(bare)
    try:
        if server is not None:
            url = f"http://127.0.0.1:{bare.worker_metrics_port}/metrics"
            hidden = httpx.get(url, timeout=10)
            assert (hidden.status_code, hidden.json()["error"]) == (404, "not_found")
    finally:
        if server is not None:
            server.shutdown()
        server.server_close()


def test_no_port_serves_nothing(settings):
    assert serve_metrics(settings.model_copy(update={"worker_metrics_port": 0})) is None
