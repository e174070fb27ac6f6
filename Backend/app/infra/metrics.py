"""PayTrace's Prometheus metrics, named once, and their exposition.

Counters and histograms are incremented where things happen (a hop answered, a request
served, a movement committed, a PIN locked, an SMS handed over); figures that live in
PostgreSQL (the outbox's depth and age, settlement lag, reconciliation drift) are read
when Prometheus scrapes (app/services/metrics_figures.py), so every process reports the
same truth. With PROMETHEUS_MULTIPROC_DIR set (several API processes), prometheus_client
keeps each process's values in that directory and `/metrics` adds them up.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

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


def start_metrics_server(port: int) -> None:
    """Serve this process's metrics on 0.0.0.0:port (the worker, which has no API)."""
    start_http_server(port)


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
