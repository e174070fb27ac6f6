"""A lane of Redis connections for the one hot path: a USSD hop's MGET and SET.

redis-py 8's client costs each command tens of microseconds of CPU beyond its round
trip: the pool's asyncio lock, a deprecation check of `get_connection`'s arguments,
connection-count metrics and a health check through a retry wrapper, then the
command's own argument check. On a navigation hop, whose whole work is those two
commands and one screen, that was about a tenth of its CPU (docs/benchmarks.md, "The
hop's Redis commands without the pool's toll"). The lane sends them on connections
of the client's own kind, made with the client pool's own class and settings (TLS,
password, database, timeouts, decoding), taken in turn from a queue: the same bytes on
the wire and the same errors, without the toll. Answers are Redis's replies, decoded,
without the client's response callbacks (a SET answers "OK", where the client says True).

A connection that fails is disconnected and connects again on its next use; a reused
connection that fails to connect or send (Redis closed it while idle) is tried once
more on a fresh connection, as the client's own retry would (both commands are
idempotent). A cancelled command disconnects its connection: its answer may still be
on the way, and the next command must never read it.

Not for Redis Cluster (the cluster client routes each key to its node): there the
store uses the client itself (app/runtime.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, ResponseError

DEFAULT_SIZE = 512  # the client's max_connections (app/runtime.py)


class RedisLane:
    def __init__(self, client: aioredis.Redis, *, size: int | None = None) -> None:
        pool = client.connection_pool
        self._class = pool.connection_class
        self._kwargs = pool.connection_kwargs
        # As many as the client's pool may open: a hop never waits for a connection
        # (asyncio.Queue wakes its waiters unfairly, a waiter can starve under load).
        self._size = size or getattr(pool, "max_connections", 0) or DEFAULT_SIZE
        self._all: list[AbstractConnection] = []
        # Last used first: a quiet process keeps few connections busy.
        self._idle: asyncio.LifoQueue[AbstractConnection] = asyncio.LifoQueue()

    async def execute(self, *args: str | int) -> Any:
        """Send one command and read Redis's reply, decoded. Raises what the client
        would: ResponseError, ConnectionError, TimeoutError (redis's own)."""
        return (await self.pipeline((args,)))[0]

    async def pipeline(self, commands: tuple[tuple[str | int, ...], ...]) -> list[Any]:
        """Send commands in one write and read their answers in order (one round trip,
        no MULTI: as the client's pipeline(transaction=False)). Every command must be
        idempotent: a reused connection Redis had closed sends them all again."""
        connection = await self._take()
        try:
            return await self._send(connection, commands)
        finally:
            self._idle.put_nowait(connection)

    async def _take(self) -> AbstractConnection:
        if self._idle.empty() and len(self._all) < self._size:
            connection = self._class(**self._kwargs)  # connects on first use
            self._all.append(connection)
            return connection
        return await self._idle.get()

    async def _send(
        self, connection: AbstractConnection, commands: tuple[tuple[str | int, ...], ...]
    ) -> list[Any]:
        while True:
            reused = connection.is_connected
            try:
                if not reused:
                    await connection.connect()
                return await _round_trip(connection, commands)
            except ResponseError:
                raise  # Redis answered: the connection is sound
            except RedisConnectionError:
                await connection.disconnect()
                if not reused:
                    raise
                # A reused connection Redis had closed: once more, on a fresh one
                # (disconnected now, so a second failure is raised above).
            except BaseException:
                await connection.disconnect()
                raise

    async def close(self) -> None:
        """Disconnect every connection (those in use too: called at shutdown)."""
        for connection in self._all:
            await connection.disconnect()


async def _round_trip(
    connection: AbstractConnection, commands: tuple[tuple[str | int, ...], ...]
) -> list[Any]:
    """Every command in one write, then every answer; an error answer is raised once
    all are read (the connection stays in step)."""
    await connection.send_packed_command(pack(commands))
    answers: list[Any] = []
    for _ in commands:
        try:
            answers.append(await connection.read_response())
        except ResponseError as error:  # Redis's answer to this one: read the rest
            answers.append(error)
    for answer in answers:
        if isinstance(answer, ResponseError):
            raise answer
    return answers


def pack(commands: tuple[tuple[str | int, ...], ...]) -> list[bytes]:
    """The commands in Redis's protocol (RESP arrays of bulk strings), as the client's
    pack_commands writes them for the lane's arguments: text as UTF-8 (the client's
    default encoding, which PayTrace keeps), integers in decimal. About a fifth of the
    client's CPU for a hop's MGET or SETs (docs/benchmarks.md, "A leaner RESP packer");
    anything else (a float, a bool) is refused, as the client refuses a bool."""
    out: list[bytes] = []
    for args in commands:
        out.append(b"*%d\r\n" % len(args))
        for arg in args:
            if isinstance(arg, str):
                data = arg.encode()
            elif isinstance(arg, int) and not isinstance(arg, bool):
                data = b"%d" % arg
            else:
                raise DataError(f"the lane sends text and integers, not {type(arg).__name__}")
            out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return [b"".join(out)]
