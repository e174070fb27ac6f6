"""`python -m app.worker`: run the outbox worker until SIGINT or SIGTERM.

On a signal the worker finishes and records the row in flight, then exits; it
never abandons a row mid-call if it can help it (an abandoned row becomes
'unknown', not resent).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from wsgiref.simple_server import WSGIServer

from app.config import Settings, get_settings
from app.db.migrate import migrate_at_start
from app.db.pool import Database
from app.infra.metrics import start_metrics_server
from app.logging_setup import configure_logging
from app.worker import loops as worker_loops
from app.worker.outbox import build_worker

log = logging.getLogger("paytrace.worker")


def serve_metrics(settings: Settings) -> WSGIServer | None:
    """The worker's own counters (outbox verdicts, movements it posts) for Prometheus on
    WORKER_METRICS_PORT, with the API's /metrics rule (METRICS_TOKEN as a bearer token;
    nothing in production without one); None when the port is 0. The figures PostgreSQL
    holds are the API's /metrics."""
    if not settings.worker_metrics_port:
        return None
    return start_metrics_server(
        settings.worker_metrics_port,
        settings.metrics_token,
        production=settings.environment == "production",
    )


def main() -> int:
    """Run the worker; returns the process exit code."""
    settings = get_settings()
    configure_logging(settings.log_level)
    if not settings.database_url:
        log.error("DATABASE_URL is not set (the development runner fills it in)")
        return 2
    migrate_at_start(settings.database_url, log)
    # The outbox loop, and up to two connections for each background loop (settler,
    # watcher, reconciliation, harambee, M-Pesa), one per webhook sent at a time.
    database = Database.from_settings(settings, max_connections=16 + settings.webhook_concurrency)
    worker = build_worker(settings, database)
    loops = worker_loops.build_loops(settings, database)
    serve_metrics(settings)
    stop = threading.Event()

    def _request_stop(signum: int, _frame: object) -> None:
        log.info("stopping after the row in flight", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    log.info(
        "outbox worker started",
        extra={"worker_id": worker.worker_id, "sms_sandbox": settings.sms_sandbox_enabled},
    )
    threads = worker_loops.start(loops, stop)
    try:
        worker.run_forever(stop)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        database.close()
    log.info("outbox worker stopped", extra={"worker_id": worker.worker_id})
    return 0


if __name__ == "__main__":
    sys.exit(main())
