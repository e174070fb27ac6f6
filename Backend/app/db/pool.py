"""PostgreSQL connections: a thread-safe psycopg2 pool with sane timeouts.

Every connection gets a statement timeout and a connect timeout so that a sick
database turns into a quick ServiceUnavailable instead of a hung USSD hop.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions
import psycopg2.pool

from app.errors import ServiceUnavailable


class Database:
    """A lazily opened connection pool for one DSN."""

    def __init__(
        self,
        dsn: str,
        *,
        max_connections: int = 16,
        connect_timeout_s: int = 2,
        statement_timeout_ms: int = 5000,
    ) -> None:
        self.dsn = dsn
        self._max = max_connections
        self._kwargs = {
            "connect_timeout": connect_timeout_s,
            "options": f"-c statement_timeout={statement_timeout_ms}",
            "application_name": "paytrace",
        }
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = psycopg2.pool.ThreadedConnectionPool(
                        0, self._max, self.dsn, **self._kwargs
                    )
        return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """Borrow a connection; a broken one is discarded, not returned to the pool."""
        pool = self._get_pool()
        try:
            conn = pool.getconn()
        except (psycopg2.OperationalError, psycopg2.pool.PoolError) as exc:
            raise ServiceUnavailable("database unavailable") from exc
        broken = False
        try:
            yield conn
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            broken = True
            raise ServiceUnavailable("database unavailable") from exc
        finally:
            if conn.closed:
                broken = True
            elif not broken and conn.status != psycopg2.extensions.STATUS_READY:
                conn.rollback()
            pool.putconn(conn, close=broken)

    def ping(self) -> None:
        """Round trip to PostgreSQL; raises ServiceUnavailable."""
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.closeall()
            self._pool = None
