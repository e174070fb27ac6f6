"""Threads for the blocking work the event loop hands off: services (psycopg2, the
rails' HTTP clients) and, below the loop's priority, PIN checks (app/infra/pin_pool.py).

`loop.run_in_executor` on a pool of our own, with the caller's context (the request id
for the logs). Starlette's `run_in_threadpool` (anyio's worker threads) did the same
with more on top, paid on every hand-off: a checkpoint (one more turn of the loop), a
capacity limiter, a cancel scope and a look-up of the running async library. On a USSD
first hop (a caller no cache knows, read from PostgreSQL) that was about a tenth of the
event loop's CPU; with this pool the first hop costs 0.28-0.32 ms of CPU instead of
0.37 ms (docs/benchmarks.md, "The thread hand-off").

Cancellation is as it was with anyio's threads under asyncio's own cancellation: a
caller cancelled while its work runs (a hop's deadline, the wait for a biller's
lookup) stops waiting at once, and the work runs its course in its thread; work not yet
started when its caller is cancelled never starts. PIN checks wait instead
(app/infra/pin_pool.py).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class WorkerThreads:
    def __init__(
        self, workers: int, name: str, initializer: Callable[[], None] | None = None
    ) -> None:
        self.workers = workers
        self._pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=name, initializer=initializer
        )

    async def run(self, work: Callable[[], T]) -> T:
        """work() on one of these threads, with the caller's context."""
        return await self.submit(work)

    def submit(self, work: Callable[[], T]) -> asyncio.Future[T]:
        """work() on one of these threads, with the caller's context: its future."""
        return asyncio.get_running_loop().run_in_executor(
            self._pool, contextvars.copy_context().run, work
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
