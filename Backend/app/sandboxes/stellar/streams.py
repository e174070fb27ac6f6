"""Server-sent events as Horizon streams them: any listing asked for with
`Accept: text/event-stream` answers with its records after the cursor, then each new
one as ledgers close, on one connection.

The frames are Horizon's: first `retry: 1000`, `event: open`, `data: "hello"`; then one
`id: <paging token>` / `data: <record>` per record, so a client that reconnects with
the last id (the `Last-Event-ID` header, or `cursor=`) resumes exactly after it; after
`limit` records (or `max_s` seconds), `retry: 10`, `event: close`, `data: "byebye"`,
and the response ends, for the client to reconnect from its last id. While nothing
happens, the hello is sent again every `keepalive_s`, so a client's read timeout
never fires on a quiet account (stellar-sdk skips hello and byebye data).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

EVENT_STREAM = "text/event-stream"
HELLO = 'retry: 1000\nevent: open\ndata: "hello"\n\n'
KEEPALIVE = 'event: open\ndata: "hello"\n\n'
BYEBYE = 'retry: 10\nevent: close\ndata: "byebye"\n\n'
HEADERS = {
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "Access-Control-Allow-Origin": "*",
    "X-Accel-Buffering": "no",
}

# (key to read after, how many) -> records in ascending order, each with paging_token
Fetch = Callable[[Any, int], list[dict]]


def wants_stream(request: Request) -> bool:
    return EVENT_STREAM in request.headers.get("accept", "")


def frame(record: dict) -> str:
    return f"id: {record['paging_token']}\ndata: {json.dumps(record, separators=(',', ':'))}\n\n"


def response(
    request: Request, fetch: Fetch, parse: Callable[[str], Any], start: Any, limit: int
) -> StreamingResponse:
    """Stream `fetch`'s records after `start` as Horizon does (see the module)."""
    return StreamingResponse(
        _frames(request, fetch, parse, start, limit),
        media_type=f"{EVENT_STREAM}; charset=utf-8",
        headers=HEADERS,
    )


async def _frames(
    request: Request, fetch: Fetch, parse: Callable[[str], Any], key: Any, limit: int
) -> AsyncIterator[str]:
    state = request.app.state
    closer, settings = state.closer, state.streams
    loop = asyncio.get_running_loop()
    ends = loop.time() + settings.max_s
    sent = 0
    yield HELLO
    said = loop.time()  # when the client last heard from us
    while True:
        seen = closer.network.last_closed  # read before: a close meanwhile is not missed
        records = await asyncio.to_thread(fetch, key, limit - sent)
        for record in records:
            yield frame(record)
            key = parse(record["paging_token"])
        sent += len(records)
        if records:
            said = loop.time()
        if sent >= limit or loop.time() >= ends:
            yield BYEBYE
            return
        if records:
            continue  # more may have closed already
        if loop.time() - said >= settings.keepalive_s:
            yield KEEPALIVE
            said = loop.time()
        wait_s = min(settings.keepalive_s - (loop.time() - said), ends - loop.time())
        await closer.wait_closed(seen + 1, max(wait_s, 0.0))
