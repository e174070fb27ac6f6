"""The id of the request this code runs for: on every log line, and on every outbox row
the request writes, so that one id follows a hop or a REST call from the API into the
worker's logs.

The API's RequestId middleware sets it for each HTTP request (its X-Request-ID); the
worker sets it, while it performs an outbox row, to the id the row was written under.
A context variable, so concurrent requests on one event loop never see each other's,
and the thread pool's services see their caller's (Starlette copies the context).
The database pool puts it into each transaction as `paytrace.request_id`, which the
outbox's `request_id` column takes as its default (app/db/pool.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# What a request id may be (app/api/request_id.py makes every id fit): short, and only
# characters that go into a log line, a header or a SQL literal unescaped.
SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")

current_request_id: ContextVar[str | None] = ContextVar("paytrace_request_id", default=None)


@contextmanager
def request_scope(request_id: str | None) -> Iterator[None]:
    """Run the block for request_id (None or an unfit id: for no request)."""
    fit = request_id if request_id is not None and SANE_ID.fullmatch(request_id) else None
    token = current_request_id.set(fit)
    try:
        yield
    finally:
        current_request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record logged inside a request's scope."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True
