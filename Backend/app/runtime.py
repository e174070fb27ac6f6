"""The long-lived resources one PayTrace process holds: settings, pools, clients."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from app.config import Settings
from app.db.pool import Database
from app.db.unit_of_work import UnitOfWork
from app.infra.pin_pool import PinPool
from app.infra.redis_lane import RedisLane
from app.infra.worker_threads import WorkerThreads


def redis_client(settings: Settings) -> aioredis.Redis:
    """The async Redis client for REDIS_URL: a cluster client when REDIS_CLUSTER is set
    (it learns the other nodes from the one named, and sends each key to its slot)."""
    options = {
        "socket_timeout": settings.redis_timeout_s,
        "socket_connect_timeout": settings.redis_timeout_s,
        "decode_responses": True,
        "max_connections": 512,
    }
    if settings.redis_cluster:
        # Same commands, same answers: PayTrace only sends what a cluster allows
        # (multi-key reads and MULTI within one hash tag).
        return RedisCluster.from_url(settings.redis_url, **options)  # type: ignore[return-value]
    return aioredis.Redis.from_url(settings.redis_url, **options)


# As many as anyio's default limiter allowed the same calls before (Starlette's thread
# pool): a call past the database pool's size waits for a connection in its thread.
SERVICE_THREADS = 40


@dataclass
class Runtime:
    settings: Settings
    database: Database
    redis: aioredis.Redis
    # argon2id is ~30 ms of CPU per PIN: PIN checks (USSD and REST alike) take turns
    # under this semaphore and run on the PIN pool's threads, one per core, below the
    # event loop's priority (app/infra/pin_pool.py), so they use every core and a
    # navigation hop never waits behind them.
    pin_checks: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    pin_pool: PinPool = field(default_factory=lambda: PinPool(2))
    # Every service call the channels make (ChannelCore.run and read): psycopg2 and the
    # rails' clients block, so they run here, off the event loop (app/infra/worker_threads.py).
    service_threads: WorkerThreads = field(
        default_factory=lambda: WorkerThreads(SERVICE_THREADS, "service")
    )
    # Console password checks (argon2id too) take their own, smaller turn: a flood of
    # sign-ins must not hold the PIN checks' slots.
    console_sign_ins: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))
    # DATABASE_REPLICA_URL's read-only pool, or None: reads then stay on the primary.
    replica: Database | None = None
    # The USSD hop's MGET and SET on connections of their own (app/infra/redis_lane.py);
    # None on Redis Cluster, whose client routes keys itself.
    redis_lane: RedisLane | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        database = Database.from_settings(settings, max_connections=settings.db_pool_max)
        client = redis_client(settings)
        replica = (
            Database.replica_from_settings(settings, max_connections=settings.db_pool_max)
            if settings.database_replica_url
            else None
        )
        return cls(
            settings=settings,
            database=database,
            redis=client,
            pin_checks=asyncio.Semaphore(settings.pin_checks_in_flight),
            pin_pool=PinPool(settings.pin_checks_in_flight),
            service_threads=WorkerThreads(SERVICE_THREADS, "service"),
            console_sign_ins=asyncio.Semaphore(settings.console_sign_ins_in_flight),
            replica=replica,
            redis_lane=None if settings.redis_cluster else RedisLane(client),
        )

    def uow(self) -> UnitOfWork:
        """A unit of work on the primary: every write, and every read a decision rests on."""
        return UnitOfWork(self.database)

    def read_uow(self) -> UnitOfWork:
        """A unit of work for what is only shown (statements, history, the console's
        figures): on the read replica when there is one, which may lag the primary by
        its replication delay. Never for a read a write or a money decision follows."""
        return UnitOfWork(self.replica or self.database)

    def key(self, *parts: str) -> str:
        """A Redis key inside this instance's namespace."""
        return self.settings.redis_prefix + ":".join(parts)

    async def close(self) -> None:
        if self.redis_lane is not None:
            await self.redis_lane.close()
        await self.redis.aclose()
        self.pin_pool.close()
        self.service_threads.close()
        self.database.close()
        if self.replica is not None:
            self.replica.close()
