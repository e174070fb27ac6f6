"""A body too large, sent to every entry point the app has - declared by
Content-Length, or streamed chunked with no length at all - is refused before it is
read whole: 413 `payload_too_large` (JSON), or on /ussd an END apology with 200, the
only answer AT shows its caller. Nothing is stored, nothing changes.

The routes are enumerated from the app itself, so a route added tomorrow is covered
without touching this file.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from app.api.app import create_app
from app.api.callback_store import MAX_CALLBACK_BYTES
from app.ussd.routes import USSD_MAX_BODY_BYTES
from tests.security.edges_state import snapshot

CHUNK = 8 * 1024
# Over every limit: /ussd's 4 KiB, /api's 16 KiB, the callbacks' 64 KiB.
OVERSIZED = 2 * MAX_CALLBACK_BYTES
# What the ASGI-level test offers each route, streamed: far over every limit.
OFFERED = 1024 * 1024


def entry_points(settings) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves."""
    app = create_app(settings)
    found = set()
    for route in iter_route_contexts(app.routes):
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found.add((method, route.path))
    return sorted(found)


def concrete(path: str) -> str:
    # Any value fits: the body limit answers before a path parameter is looked at.
    return re.sub(r"\{[^}]+\}", "x" * 40, path)


def chunks(size: int) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        yield b"a" * CHUNK
        sent += CHUNK


def assert_refused(path: str, response: httpx.Response) -> None:
    if path.startswith("/ussd"):
        assert response.status_code == 200, (path, response.status_code, response.text)
        assert response.text.startswith("END "), (path, response.text)
    else:
        assert response.status_code == 413, (path, response.status_code, response.text)
        assert response.json()["error"] == "payload_too_large"


def test_the_app_has_the_entry_points_this_suite_expects(live_settings):
    paths = {path for _, path in entry_points(live_settings)}
    for expected in ("/ussd", "/callbacks/at/sms-delivery", "/callbacks/mpesa/stk/{token}"):
        assert expected in paths
    assert any(path.startswith("/api/v1/admin/") for path in paths)
    assert any(path.startswith("/api/v1/auth/") for path in paths)


def test_an_oversized_declared_body_is_refused_on_every_entry_point(
    live_server, live_settings, clean_database
):
    """Over real HTTP, each route and method, with Content-Length over the limit."""
    admin = {"Authorization": f"Bearer {live_settings.admin_token.get_secret_value()}"}
    before = snapshot(clean_database, live_settings)
    with httpx.Client(base_url=live_server.url, headers=admin, timeout=10) as client:
        for method, template in entry_points(live_settings):
            declared = client.request(
                method,
                concrete(template),
                content=b"a" * OVERSIZED,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert_refused(template, declared)
    assert snapshot(clean_database, live_settings) == before


def test_an_oversized_chunked_body_is_refused_over_http(live_server, live_settings, clean_database):
    """Chunked, no Content-Length: a client that does not say how much it sends."""
    mpesa = live_settings.mpesa_callback_token.get_secret_value()
    before = snapshot(clean_database, live_settings)
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        for path in (
            "/ussd",
            "/callbacks/at/sms-delivery",
            f"/callbacks/mpesa/stk/{mpesa}",
            "/api/v1/auth/otp",
        ):
            streamed = client.post(path, content=chunks(OVERSIZED))
            assert "content-length" not in streamed.request.headers
            assert_refused(path, streamed)
    assert snapshot(clean_database, live_settings) == before


def limit_of(path: str, settings) -> int:
    if path.startswith("/ussd"):
        return USSD_MAX_BODY_BYTES
    if path.startswith("/callbacks/"):
        return MAX_CALLBACK_BYTES
    return settings.api_max_body_bytes


def test_no_entry_point_reads_a_streamed_body_past_its_limit(settings, clean_database):
    """At the ASGI level, so that the bytes each route pulled can be counted: every
    route and method gets a 1 MiB chunked body; each either refuses it (413, or END
    on /ussd) having read at most one chunk past its limit, or never reads it at all."""
    admin = f"Bearer {settings.admin_token.get_secret_value()}".encode()
    before = snapshot(clean_database, settings)
    app = create_app(settings)

    async def call(method: str, path: str) -> tuple[int, int, bytes]:
        pulled = 0
        sent: list[dict] = []

        async def receive() -> dict:
            # Finite, and yielding to the loop: a route that reads everything must
            # fail this test, not exhaust the machine's memory or hang it.
            nonlocal pulled
            await asyncio.sleep(0)
            pulled += CHUNK
            return {"type": "http.request", "body": b"a" * CHUNK, "more_body": pulled < OFFERED}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"content-type", b"application/x-www-form-urlencoded"),
                (b"transfer-encoding", b"chunked"),
                (b"authorization", admin),
            ],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
            "app": app,
        }
        await asyncio.wait_for(app(scope, receive, send), timeout=10)
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return start["status"], pulled, body

    async def run_all() -> list[tuple[str, str, int, int, bytes]]:
        results = []
        async with app.router.lifespan_context(app):
            for method, template in entry_points(settings):
                path = concrete(template)
                status, pulled, body = await call(method, path)
                results.append((method, template, status, pulled, body))
        return results

    for method, template, status, pulled, body in asyncio.run(run_all()):
        where = (method, template, status, pulled)
        if template.startswith("/ussd"):
            refused = status == 200 and body.startswith(b"END ")
        else:
            refused = status == 413
        if refused:
            assert pulled <= limit_of(template, settings) + CHUNK, where
        else:
            assert pulled == 0, where  # the route never read the body
    assert snapshot(clean_database, settings) == before


@pytest.mark.parametrize("size", [USSD_MAX_BODY_BYTES + 1, 64 * 1024 * 1024])
def test_ussd_refuses_a_declared_oversized_body_before_reading_it(
    live_server, live_settings, clean_database, size
):
    """The client declares a huge body and sends a few bytes: only the declaration can
    refuse it, and PayTrace answers without waiting for the rest (a raw socket: HTTP
    clients will not send a body shorter than they declare)."""
    before = snapshot(clean_database, live_settings)
    form = b"sessionId=s1&serviceCode=%2A384%2A123%23&phoneNumber=%2B254711000001&text="
    head = (
        f"POST /ussd HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {size}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=5) as sock:
        sock.sendall(head + form)
        answer = b""
        while b"END " not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 200") and b"END " in answer
    assert snapshot(clean_database, live_settings) == before
