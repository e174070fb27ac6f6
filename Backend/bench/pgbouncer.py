"""`bench-ledger --pgbouncer N`: a local PgBouncer (the distribution's package) in
transaction mode, N server connections, in front of the scratch database's server, so
the same run measures what production's pooler costs a transfer (docs/benchmarks.md).
Configured as docker-compose.yml's and tests/integration/test_pgbouncer.py's are."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2.extensions

PLACES = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


def binary() -> str | None:
    return shutil.which("pgbouncer") or next((p for p in PLACES if Path(p).exists()), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as(host: str) -> str:
    """Whom pgbouncer runs as when started by root: the owner of the server's socket
    directory when it listens on one (the embedded server's is its data directory, open
    to its owner alone), else postgres."""
    if host.startswith("/"):
        owner = Path(host).stat().st_uid
        if owner != 0:
            return pwd.getpwuid(owner).pw_name
    return pwd.getpwnam("postgres").pw_name


@contextmanager
def in_front_of(dsn: str, pool_size: int) -> Iterator[str]:
    """dsn rewritten to go through a PgBouncer started for the run, stopped after it."""
    program = binary()
    if program is None:
        raise SystemExit("bench: --pgbouncer needs pgbouncer (apt-get install pgbouncer)")
    params = psycopg2.extensions.parse_dsn(dsn)
    host, port = params.get("host") or "127.0.0.1", params.get("port") or "5432"
    listen = _free_port()
    work = Path(tempfile.mkdtemp(prefix="paytrace-bench-pgbouncer-"))
    lines = [
        "[databases]",
        f"* = host={host} port={port} user={params.get('user') or 'postgres'}",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {listen}",
        "unix_socket_dir =",
        "auth_type = any",
        "pool_mode = transaction",
        f"default_pool_size = {pool_size}",
        "max_client_conn = 500",
        "server_reset_query =",
        "ignore_startup_parameters = extra_float_digits",
    ]
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        lines.append(f"user = {_run_as(host)}")
        work.chmod(0o755)
    ini = work / "pgbouncer.ini"
    ini.write_text("\n".join(lines) + "\n")
    ini.chmod(0o644)
    process = subprocess.Popen(  # noqa: S603 (the installed pgbouncer, our own ini)
        [program, str(ini)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                raise SystemExit(f"bench: pgbouncer exited: {process.stderr.read()}")  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", listen), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("bench: pgbouncer did not start listening") from None
                time.sleep(0.05)
        yield psycopg2.extensions.make_dsn(dsn, host="127.0.0.1", port=listen)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)
