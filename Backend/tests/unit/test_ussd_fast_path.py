"""POST /ussd takes a lean path ahead of FastAPI's routing (app/http/fast_path.py) and
keeps every guard the full stack gives it: the request id, the metrics by route
template, the callback token's 403 JSON, the body cap's END; a browser's hop (Origin)
and any other method still take the full stack."""

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import SecretStr

from app.api.app import create_app
from app.config import Settings
from app.ussd.routes import claim_hop

TOKEN = "t" * 32


def _settings(**extra) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url="postgresql://nobody@127.0.0.1:1/none",
        redis_url="redis://127.0.0.1:1/0",
        ussd_callback_token=SecretStr(TOKEN),
        **extra,
    )


def _scope(method: str, path: str, headers=()) -> dict:
    return {"type": "http", "method": method, "path": path, "headers": list(headers)}


def _count(route: str, status: str) -> float:
    labels = {"route": route, "method": "POST", "status": status}
    return REGISTRY.get_sample_value("paytrace_http_requests_total", labels) or 0.0


def test_only_a_post_to_ussd_or_ussd_token_without_origin_is_claimed():
    assert claim_hop(_scope("POST", "/ussd"))
    plain = _scope("POST", f"/ussd/{TOKEN}")
    assert claim_hop(plain)
    assert plain["path_params"] == {"token": TOKEN}
    assert plain["route"].path == "/ussd/{token}"
    assert not claim_hop(_scope("GET", "/ussd"))
    assert not claim_hop(_scope("POST", "/ussd/a/b"))
    assert not claim_hop(_scope("POST", "/ussd/"))
    assert not claim_hop(_scope("POST", "/ussdx"))
    assert not claim_hop(_scope("POST", "/ussd", [(b"origin", b"https://example.org")]))


def test_a_wrong_token_on_the_lean_path_is_refused_with_an_id_and_counted():
    before = _count("/ussd/{token}", "403")
    with TestClient(create_app(_settings())) as client:
        answer = client.post("/ussd/wrong-token", data={"sessionId": "s", "text": ""})
    assert answer.status_code == 403
    assert answer.json() == {"error": "forbidden", "detail": "bad callback token"}
    assert len(answer.headers["x-request-id"]) == 32
    assert _count("/ussd/{token}", "403") == before + 1


def test_a_body_over_the_cap_on_the_lean_path_gets_an_end_screen():
    with TestClient(create_app(_settings())) as client:
        answer = client.post(
            "/ussd",
            content=b"text=" + b"1" * 5000,
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Request-ID": "caller-id-1",
            },
        )
    assert answer.status_code == 200
    assert answer.text.startswith("END ")
    assert answer.headers["x-request-id"] == "caller-id-1"


def test_a_browsers_hop_takes_the_full_stack_and_gets_cors_headers():
    settings = _settings(cors_allow_origins=["https://phone.example.org"])
    with TestClient(create_app(settings)) as client:
        answer = client.post(
            "/ussd/wrong-token",
            data={"sessionId": "s"},
            headers={"Origin": "https://phone.example.org"},
        )
    assert answer.status_code == 403
    assert answer.headers["access-control-allow-origin"] == "https://phone.example.org"
