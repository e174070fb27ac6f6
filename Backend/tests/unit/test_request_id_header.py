"""RequestId puts exactly one X-Request-ID on every answer: appended when the app set
none, replaced in place when it did; a new id is 32 hex digits."""

import asyncio
import re

from app.api.request_id import RequestId, sane_request_id


def _answer_headers(app_headers: list[tuple[bytes, bytes]], request_headers=()) -> list:
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": app_headers})
        await send({"type": "http.response.body", "body": b""})

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "headers": list(request_headers)}
    asyncio.run(RequestId(app)(scope, None, send))
    return sent[0]["headers"]


def test_the_id_is_appended_to_the_apps_headers():
    headers = _answer_headers(
        [(b"content-type", b"text/plain")], [(b"x-request-id", b"caller-id-1")]
    )
    assert headers == [(b"content-type", b"text/plain"), (b"x-request-id", b"caller-id-1")]


def test_an_id_the_app_set_is_replaced_in_place_not_repeated():
    given = [(b"x-request-id", b"app-own"), (b"content-type", b"text/plain")]
    headers = _answer_headers(given, [(b"x-request-id", b"caller-id-2")])
    assert headers == [(b"x-request-id", b"caller-id-2"), (b"content-type", b"text/plain")]


def test_a_new_id_is_32_hex_digits_and_an_insane_one_is_replaced():
    assert re.fullmatch(r"[0-9a-f]{32}", sane_request_id(None))
    assert sane_request_id(None) != sane_request_id(None)
    assert re.fullmatch(r"[0-9a-f]{32}", sane_request_id("bad id\n"))
    ids = [value for name, value in _answer_headers([]) if name == b"x-request-id"]
    assert len(ids) == 1 and re.fullmatch(rb"[0-9a-f]{32}", ids[0])
