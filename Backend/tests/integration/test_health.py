import httpx


def test_ready_reports_postgres_and_redis(live_server):
    response = httpx.get(f"{live_server.url}/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}


def test_liveness_answers(live_server):
    assert httpx.get(f"{live_server.url}/health").json() == {"status": "ok"}


def test_unknown_path_gets_json_404(live_server):
    response = httpx.get(f"{live_server.url}/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
