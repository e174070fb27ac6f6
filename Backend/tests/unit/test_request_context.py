"""Every log line inside a request's scope carries its id; none outside it."""

from __future__ import annotations

import io
import json
import logging

from app.infra.request_context import RequestIdFilter, current_request_id, request_scope
from app.logging_setup import JsonFormatter


def logged(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_log_lines_inside_a_request_scope_carry_its_id():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    log = logging.getLogger("paytrace.test.request_ids")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        with request_scope("req-12345678"):
            log.info("inside")
            with request_scope("worker-row-0001"):
                log.info("nested")
            log.info("back")
        log.info("outside")
    finally:
        log.removeHandler(handler)

    lines = {line["msg"]: line.get("request_id") for line in logged(stream)}
    assert lines == {
        "inside": "req-12345678",
        "nested": "worker-row-0001",
        "back": "req-12345678",
        "outside": None,
    }


def test_an_unfit_id_is_no_id():
    with request_scope("x'; DROP TABLE outbox; --"):
        assert current_request_id.get() is None
    with request_scope("short"):
        assert current_request_id.get() is None
