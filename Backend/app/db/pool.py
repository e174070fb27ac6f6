"""PostgreSQL connections: a thread-safe psycopg2 pool with sane timeouts.

Every transaction gets a statement timeout and every connection a connect timeout, so
that a sick database turns into a quick ServiceUnavailable instead of a hung USSD hop.

The statement timeout is set per transaction (`SET LOCAL`), not per session: behind
PgBouncer in transaction mode a client's session settings would leak to whichever
client gets its server connection next, and PgBouncer refuses the startup `options`
parameter outright. It costs no round trip: the first statement of each transaction
carries `SET LOCAL statement_timeout = ...;` in front of it, in the same message. In
autocommit mode (a statement that is its own transaction: UnitOfWork.
statements_commit_themselves) every statement carries it: the two run in one
implicit transaction, so the setting still ends with it.

A pool on a read replica (`read_only=True`) also opens every transaction with `SET
TRANSACTION READ ONLY`, in the same message: a write sent there by mistake fails at
once, on a standby and on a primary alike.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import psycopg2
import psycopg2.extensions
import psycopg2.sql

from app.errors import ServiceUnavailable
from app.infra.request_context import SANE_ID, current_request_id

if TYPE_CHECKING:
    from app.config import Settings


def timed_cursor(
    statement_timeout_ms: int, *, read_only: bool = False
) -> type[psycopg2.extensions.cursor]:
    """A cursor class that opens every transaction with the statement timeout (and, when
    read_only, as a read-only transaction), and with the id of the request it runs for
    (`paytrace.request_id`: the outbox's rows take it as their default)."""
    # SET TRANSACTION comes first: it must precede any query of the transaction.
    timeout = ("SET TRANSACTION READ ONLY; " if read_only else "") + (
        f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}; "
    )

    def opening() -> str:
        request_id = current_request_id.get()
        if request_id is None or not SANE_ID.fullmatch(request_id):
            return timeout
        # SANE_ID admits no quote or backslash: safe as a literal.
        return f"{timeout}SET LOCAL paytrace.request_id = '{request_id}'; "

    class TimedCursor(psycopg2.extensions.cursor):
        def execute(self, query, vars=None):
            conn = self.connection
            idle = conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
            if idle:
                # This statement opens a transaction (an implicit one in autocommit
                # mode): the timeout rides in with it.
                arm = opening()
                if isinstance(query, bytes):
                    query = arm.encode() + query
                elif isinstance(query, str):
                    query = arm + query
                else:  # psycopg2.sql.Composable
                    query = psycopg2.sql.SQL(arm) + query
            return super().execute(query, vars)

    return TimedCursor


class Database:
    """A lazily filled pool of connections for one DSN.

    Connections are opened on demand, kept for reuse (most recently used first,
    so a quiet pool shrinks to the connections it really needs warm), and never
    more than max_connections at once: a caller beyond that waits up to the
    connect timeout, then gets ServiceUnavailable. `read_only`: every transaction is
    read-only (the read replica's pool).
    """

    def __init__(
        self,
        dsn: str,
        *,
        max_connections: int = 16,
        connect_timeout_s: int = 2,
        statement_timeout_ms: int = 5000,
        read_only: bool = False,
    ) -> None:
        self.dsn = dsn
        self.read_only = read_only
        self._wait_s = connect_timeout_s
        self._kwargs = {
            "connect_timeout": connect_timeout_s,
            "cursor_factory": timed_cursor(statement_timeout_ms, read_only=read_only),
            # pg_stat_activity tells the replica's readers from the primary's clients.
            "application_name": "paytrace-read" if read_only else "paytrace",
        }
        self._idle: list[psycopg2.extensions.connection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings, *, max_connections: int) -> Database:
        """A pool on DATABASE_URL with the configured connect and statement timeouts."""
        return cls(
            settings.database_url,
            max_connections=max_connections,
            connect_timeout_s=settings.db_connect_timeout_s,
            statement_timeout_ms=settings.db_statement_timeout_ms,
        )

    @classmethod
    def replica_from_settings(cls, settings: Settings, *, max_connections: int) -> Database:
        """A read-only pool on DATABASE_REPLICA_URL (set), with the same timeouts."""
        assert settings.database_replica_url, "DATABASE_REPLICA_URL is not set"
        return cls(
            settings.database_replica_url,
            max_connections=max_connections,
            connect_timeout_s=settings.db_connect_timeout_s,
            statement_timeout_ms=settings.db_statement_timeout_ms,
            read_only=True,
        )

    def _acquire(self) -> psycopg2.extensions.connection:
        if not self._slots.acquire(timeout=self._wait_s):
            raise ServiceUnavailable("database busy: no free connection")
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is not None:
            return conn
        try:
            return psycopg2.connect(self.dsn, **self._kwargs)
        except psycopg2.OperationalError as exc:
            self._slots.release()
            raise ServiceUnavailable("database unavailable") from exc

    def _release(self, conn: psycopg2.extensions.connection, broken: bool) -> None:
        try:
            if broken or self._closed or conn.closed:
                conn.close()
            else:
                with self._lock:
                    self._idle.append(conn)
        finally:
            self._slots.release()

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """Borrow a connection; a broken one is discarded, not returned to the pool."""
        conn = self._acquire()
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
                try:
                    conn.rollback()
                except psycopg2.Error:
                    broken = True
            self._release(conn, broken)

    def ping(self) -> None:
        """Round trip to PostgreSQL; raises ServiceUnavailable."""
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()

    def close(self) -> None:
        """Close idle connections now; those in use close when they come back."""
        self._closed = True
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
