"""A scratch PostgreSQL database for one benchmark run, dropped however the run ends.

The server is $BENCH_DATABASE_URL (any database on it: it is only used to create
and drop ours) or, when that is unset, the embedded PostgreSQL under
Backend/.data/bench that `make bench-ussd` uses too. The scratch database is
`paytrace_bench_<pid>`, migrated like production; it is dropped on normal exit,
on an exception, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions

from app.config import BACKEND_DIR
from app.db.migrate import apply_migrations
from app.infra.embedded import EmbeddedServers, start_postgres

BENCH_DATA_DIR = BACKEND_DIR / ".data" / "bench"


@dataclass(frozen=True)
class ScratchDatabase:
    dsn: str
    name: str
    server: str  # what the figures were measured against, for the printout


def admin_exec(admin_url: str, sql: str) -> None:
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def server_summary(dsn: str) -> str:
    """'PostgreSQL 15.2, fsync=on, synchronous_commit=on': what the floor depends on."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT current_setting('server_version'), current_setting('fsync'),"
                " current_setting('synchronous_commit'), current_setting('wal_sync_method')"
            )
            version, fsync, sync_commit, method = cur.fetchone()
    finally:
        conn.close()
    return (
        f"PostgreSQL {version}, fsync={fsync}, synchronous_commit={sync_commit}, "
        f"wal_sync_method={method}"
    )


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def scratch_database(prefix: str = "paytrace_bench") -> Iterator[ScratchDatabase]:
    """Create, migrate, yield and finally drop `<prefix>_<pid>`."""
    servers = EmbeddedServers()
    admin_url = os.environ.get("BENCH_DATABASE_URL", "")
    where = "BENCH_DATABASE_URL"
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # SIGTERM cleans up too
    try:
        if not admin_url:
            admin_url = start_postgres(BENCH_DATA_DIR, servers)
            where = f"embedded PostgreSQL ({BENCH_DATA_DIR})"
        name = f"{prefix}_{os.getpid()}"
        admin_exec(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin_exec(admin_url, f'CREATE DATABASE "{name}"')
        try:
            dsn = psycopg2.extensions.make_dsn(admin_url, dbname=name)
            apply_migrations(dsn)
            yield ScratchDatabase(dsn=dsn, name=name, server=where)
        finally:
            # WITH (FORCE) ends any connection a worker left behind.
            admin_exec(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        servers.stop()
        signal.signal(signal.SIGTERM, previous)
