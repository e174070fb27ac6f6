"""A real PgBouncer in transaction mode in front of the test PostgreSQL.

The distribution's `pgbouncer` package is used where it is installed; where it is not,
the tests that need it skip with a reason that starts "needs " (in CI such a skip is a
failure: tests/support/ci_skips.py). PgBouncer refuses to run as root: started as root (CI),
it is told to become the `postgres` user the PostgreSQL packages create.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2.extensions
import pytest

from tests.conftest import free_port

BINARY_PLACES = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


def pgbouncer_binary() -> str:
    """The installed pgbouncer, or a skip saying what to install."""
    found = shutil.which("pgbouncer") or next(
        (p for p in BINARY_PLACES if os.access(p, os.X_OK)), None
    )
    if found is None:
        pytest.skip("needs pgbouncer (the distribution's package: apt-get install pgbouncer)")
    return found


def _server_address(dsn: str) -> tuple[str, int, str]:
    params = psycopg2.extensions.parse_dsn(dsn)
    host = params.get("host") or "127.0.0.1"
    return host, int(params.get("port") or 5432), params.get("user") or "postgres"


def _wait_listening(port: int, process: subprocess.Popen, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {process.stderr.read()}")  # type: ignore[union-attr]
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("pgbouncer did not start listening")


@contextmanager
def pgbouncer(dsn: str, work_dir: Path, *, pool_size: int = 4) -> Iterator[str]:
    """PgBouncer (transaction pooling, `pool_size` server connections per database) in
    front of dsn's server; yields dsn rewritten to go through it."""
    binary = pgbouncer_binary()
    host, port, user = _server_address(dsn)
    listen = free_port()
    work_dir.mkdir(parents=True, exist_ok=True)
    as_root = os.geteuid() == 0
    lines = [
        "[databases]",
        # Every database name maps to the same name on the server, logged in as `user`.
        f"* = host={host} port={port} user={user}",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {listen}",
        "unix_socket_dir =",
        "auth_type = any",
        "pool_mode = transaction",
        f"default_pool_size = {pool_size}",
        "max_client_conn = 200",
        "server_reset_query =",
        # PayTrace names its connections; PgBouncer passes application_name on.
        "ignore_startup_parameters = extra_float_digits",
    ]
    if as_root:
        lines.append(f"user = {pwd.getpwnam('postgres').pw_name}")
        work_dir.chmod(0o755)
    ini = work_dir / "pgbouncer.ini"
    ini.write_text("\n".join(lines) + "\n")
    ini.chmod(0o644)
    process = subprocess.Popen(
        [binary, str(ini)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_listening(listen, process)
        yield psycopg2.extensions.make_dsn(dsn, host="127.0.0.1", port=listen)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
