"""read_capped (app/http/body_limit.py) reads a body from ASGI messages as
Request.stream() did for /ussd: every chunk to the last, nothing past the cap, and a
client gone is ClientDisconnect."""

import asyncio

import pytest
from starlette.requests import ClientDisconnect

from app.http.body_limit import read_capped


def _receive(*messages: dict):
    queue = list(messages)

    async def receive() -> dict:
        return queue.pop(0)

    return receive, queue


def _chunk(body: bytes, more: bool = True) -> dict:
    return {"type": "http.request", "body": body, "more_body": more}


def _read(receive, max_bytes: int = 10, headers=()) -> bytes | None:
    scope = {"type": "http", "headers": list(headers)}
    return asyncio.run(read_capped(scope, receive, max_bytes))


def test_every_chunk_is_read_to_the_last():
    receive, left = _receive(_chunk(b"ab"), _chunk(b""), _chunk(b"cd", more=False), _chunk(b"x"))
    assert _read(receive) == b"abcd"
    assert len(left) == 1  # nothing read past the last chunk


def test_a_body_past_the_cap_is_refused_and_read_no_further():
    receive, left = _receive(_chunk(b"123456"), _chunk(b"789012"), _chunk(b"3", more=False))
    assert _read(receive) is None
    assert len(left) == 1
    assert _read(_receive(_chunk(b"0123456789", more=False))[0]) == b"0123456789"


def test_a_declared_length_over_the_cap_is_refused_before_reading():
    receive, left = _receive(_chunk(b"1", more=False))
    assert _read(receive, headers=[(b"content-length", b"11")]) is None
    assert len(left) == 1


def test_a_client_gone_is_a_disconnect():
    receive, _ = _receive(_chunk(b"ab"), {"type": "http.disconnect"})
    with pytest.raises(ClientDisconnect):
        _read(receive)
