"""A hop answered on the lean path (app/ussd/routes.py `hop_endpoint`: no Request, no
Response object) gets exactly the bytes the routed path answers the same hop with:
status, body and every header, on real PostgreSQL and Redis. A hop carrying an Origin
header takes the routed path (FastPath leaves it to the full stack), so each hop below
is sent both ways and the answers compared."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.api.app import create_app
from app.config import Settings

TOKEN = "k" * 32
CODE = "*384*123#"
ORIGIN = "https://phone.example.org"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# A repeated field (the first counts) and bytes that are not UTF-8, raw and escaped.
REPEATED_AND_NOT_UTF8 = (
    b"sessionId=s8&sessionId=x&serviceCode=%2A384%2A123%23&phoneNumber=%2B254711000555&text=\xff%ff"
)


def _form(session: str, phone: str = "+254711000555", text: str = "", code: str = CODE) -> bytes:
    fields = {"sessionId": session, "serviceCode": code, "phoneNumber": phone, "text": text}
    return urlencode(fields).encode()


def _both(
    client: TestClient, body: bytes | None, path: str = "/ussd", **headers: str
) -> tuple[httpx.Response, httpx.Response]:
    """The hop sent on the lean path, then (with an Origin) on the routed path."""
    sent = {"Authorization": f"Bearer {TOKEN}", **FORM, "X-Request-ID": "same-id-1", **headers}
    sent = {name: value for name, value in sent.items() if value}
    lean = client.post(path, content=body, headers=sent)
    routed = client.post(path, content=body, headers={**sent, "Origin": ORIGIN})
    return lean, routed


def _same(lean: httpx.Response, routed: httpx.Response) -> None:
    assert lean.status_code == routed.status_code
    assert lean.content == routed.content
    assert lean.headers.multi_items() == routed.headers.multi_items()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with_token = settings.model_copy(update={"ussd_callback_token": SecretStr(TOKEN)})
    with TestClient(create_app(with_token)) as client:
        yield client


def test_a_walk_and_its_replay_get_the_same_bytes_on_both_paths(client):
    inputs: list[str] = []
    for step in ["", "2", "0", "2", "00"]:  # an unregistered caller: About, back, About, home
        if step:
            inputs.append(step)
        text = "*".join(inputs)
        lean = client.post("/ussd", content=_form("lean-1", text=text), headers=_auth())
        routed = client.post(
            "/ussd", content=_form("routed-1", text=text), headers={**_auth(), "Origin": ORIGIN}
        )
        _same(lean, routed)
        assert lean.status_code == 200 and lean.text.startswith("CON ")
        assert lean.headers["content-type"] == "text/plain; charset=utf-8"
    replayed = client.post("/ussd", content=_form("lean-1", text=text), headers=_auth())
    _same(replayed, lean)


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", **FORM, "X-Request-ID": "same-id-2"}


@pytest.mark.parametrize(
    ("body", "path", "headers", "status", "starts"),
    [
        (_form("s1"), "/ussd", {"Authorization": "Bearer wrong"}, 403, '{"error":"forbidden"'),
        (_form("s2"), "/ussd", {"Authorization": ""}, 403, '{"error":"forbidden"'),
        (_form("s3"), "/ussd/wrong-token", {"Authorization": ""}, 403, '{"error":"forbidden"'),
        (_form("s4"), f"/ussd/{TOKEN}", {"Authorization": ""}, 200, "CON "),
        (b"", "/ussd", {}, 200, "END "),
        (_form(""), "/ussd", {}, 200, "END "),
        (_form("s5", phone=""), "/ussd", {}, 200, "END "),
        (_form("s6", phone="12"), "/ussd", {}, 200, "END "),
        (_form("s7", code="*1#"), "/ussd", {}, 200, "END "),
        (_form("s" * 129), "/ussd", {}, 200, "END "),
        (REPEATED_AND_NOT_UTF8, "/ussd", {}, 200, "CON "),
        (b"text=" + b"1" * 5000, "/ussd", {}, 200, "END "),  # over the cap, declared
    ],
)
def test_refusals_and_apologies_get_the_same_bytes_on_both_paths(
    client, body, path, headers, status, starts
):
    lean, routed = _both(client, body, path, **headers)
    _same(lean, routed)
    assert lean.status_code == status
    assert lean.text.startswith(starts)
    assert lean.headers["x-request-id"] == "same-id-1"


def _chunked(*chunks: bytes) -> Iterator[bytes]:
    yield from chunks  # an iterator: sent with no Content-Length to judge it by


def test_a_body_without_a_length_is_capped_the_same_on_both_paths(client):
    whole = _form("s9", text="2")
    sent = {**_auth(), "X-Request-ID": "same-id-3"}
    for chunks, starts in (
        ((whole[:10], whole[10:30], whole[30:]), "CON "),  # read to its last chunk
        ((whole, *[b"1" * 1000] * 5), "END "),  # a valid hop, then past the cap
    ):
        lean = client.post("/ussd", content=_chunked(*chunks), headers=sent)
        routed = client.post("/ussd", content=_chunked(*chunks), headers={**sent, "Origin": ORIGIN})
        _same(lean, routed)
        assert lean.text.startswith(starts)


def test_a_browsers_hop_gets_the_lean_paths_answer_and_the_cors_headers(settings):
    cors = settings.model_copy(
        update={"ussd_callback_token": SecretStr(TOKEN), "cors_allow_origins": [ORIGIN]}
    )
    with TestClient(create_app(cors)) as client:
        for body, headers in ((_form("c1"), {}), (_form("c2"), {"Authorization": "Bearer no"})):
            lean, routed = _both(client, body, **headers)
            assert routed.headers["access-control-allow-origin"] == ORIGIN
            assert (lean.status_code, lean.content) == (routed.status_code, routed.content)
            without_cors = [
                (name, value)
                for name, value in routed.headers.multi_items()
                if not name.startswith("access-control-") and name != "vary"
            ]
            assert lean.headers.multi_items() == without_cors
