"""PayTrace's Prometheus metrics, named once, and their exposition.

Counters and histograms are incremented where things happen (a hop answered, a request
served, a movement committed, a PIN locked, an SMS handed over); figures that live in
PostgreSQL (the outbox's depth and age, settlement lag, reconciliation drift) are read
when Prometheus scrapes (app/services/metrics_figures.py), so every process reports the
same truth. With PROMETHEUS_MULTIPROC_DIR set (several API processes), prometheus_client
keeps each process's values in that directory and `/metrics` adds them up.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    make_wsgi_app,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from pydantic import SecretStr

from app.http.tokens import token_matches

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Seconds: a navigation hop is milliseconds, a money hop (argon2 + ledger) up to ~1 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

USSD_HOPS = Counter(
    "paytrace_ussd_hops",
    "USSD hops answered, by the screen the hop ended on and how it ended "
    "(con: a question, end: the session ends, replay: a gateway retry answered from store)",
    ["screen", "outcome"],
)
USSD_HOP_SECONDS = Histogram(
    "paytrace_ussd_hop_seconds", "Time to answer a USSD hop", buckets=LATENCY_BUCKETS
)
HTTP_REQUESTS = Counter(
    "paytrace_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "paytrace_http_request_seconds",
    "Time to answer an HTTP request, by route template",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
LEDGER_MOVEMENTS = Counter(
    "paytrace_ledger_movements", "Journal transactions committed, by kind", ["kind"]
)
PIN_LOCKS = Counter("paytrace_pin_locks", "PINs locked by wrong attempts")
# SMS (kind sms), M-Pesa requests (mpesa_stk, mpesa_b2c...) and every other external
# effect: done, retry, failed or unknown.
OUTBOX_DONE = Counter(
    "paytrace_outbox_rows",
    "Outbox rows performed by the worker, by kind and verdict",
    ["kind", "verdict"],
)


class Children:
    """A labelled metric's children, each looked up once: `labels()` checks, converts
    and joins its values under a lock on every call, three times a USSD hop, where a
    dict lookup will do. The children are the metric's own (labels() makes each), so
    the scrape and the multi-process files see exactly what labels() would give."""

    def __init__(self, metric: Counter | Histogram) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


# What the hot paths count with (a USSD hop, every HTTP answer).
USSD_HOPS_BY = Children(USSD_HOPS)
HTTP_REQUESTS_BY = Children(HTTP_REQUESTS)
HTTP_SECONDS_BY = Children(HTTP_SECONDS)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not logged (one every few seconds)."""


def _refusal(start_response: Callable, status: str, code: str, detail: str) -> list[bytes]:
    body = json.dumps({"error": code, "detail": detail}).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def guarded_metrics_app(token: SecretStr | None, *, production: bool) -> Callable:
    """The process's metrics as a WSGI app, under the API's /metrics rule: with a token,
    only a request bearing it (`Authorization: Bearer <METRICS_TOKEN>`, compared in
    constant time) is answered, others 401; without one, 404 in production (volumes
    are business figures), open elsewhere."""
    metrics = make_wsgi_app()

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if token is None and production:
            return _refusal(start_response, "404 Not Found", "not_found", "no such route")
        auth = environ.get("HTTP_AUTHORIZATION", "")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if token is not None and not token_matches(token, given):
            return _refusal(start_response, "401 Unauthorized", "unauthorized", "metrics token")
        return metrics(environ, start_response)

    return app


def start_metrics_server(port: int, token: SecretStr | None, *, production: bool) -> WSGIServer:
    """Serve this process's metrics on 0.0.0.0:port, in a daemon thread (the worker,
    which has no API), under guarded_metrics_app's rule; returns the server (its
    shutdown() stops it). Raises OSError when the port cannot be bound."""
    server = make_server(
        "0.0.0.0",  # noqa: S104 - Prometheus scrapes it from outside the host
        port,
        guarded_metrics_app(token, production=production),
        server_class=_Server,
        handler_class=_Quiet,
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The text Prometheus scrapes: this process's metrics (or every process's, in
    multi-process mode) and the extra collectors' figures."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Default())
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


class _Default(Collector):
    """The process-wide registry's metrics, inside a registry of one scrape's own."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class Figures(Collector):
    """Metrics already computed (from PostgreSQL) for one scrape."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return iter(self._metrics)
