"""Threads of their own for PIN checks (argon2id), one per core, below the event loop.

argon2id at production cost is ~30 ms of CPU per check and releases the GIL while
it hashes, so checks in threads use every core the process has. Two things keep
them from making a navigation hop wait: they never take the service threads' places
(app/infra/worker_threads.py: a first hop's profile read runs there), and on Linux
their threads run at a lower priority (nice +10): the scheduler gives the event loop's
thread a core whenever it has a hop to answer, and the checks take every cycle left
over.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from app.infra.worker_threads import WorkerThreads

T = TypeVar("T")
NICENESS = 10


def _lower_own_priority() -> None:
    # On Linux a priority set with a thread's id is that thread's alone (elsewhere
    # PRIO_PROCESS would lower the whole process: leave it).
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)


class PinPool(WorkerThreads):
    """One thread per PIN check in flight, each below the event loop's priority."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers, "pin-check", initializer=_lower_own_priority)

    async def run(self, work: Callable[[], T]) -> T:
        """work() on a PIN thread, with the caller's context (request id for the logs).

        A cancelled caller (a hop's deadline) still waits for the work to finish
        before it is cancelled: a PIN check may have committed, and the hop must know
        whether it was committing."""
        future = self.submit(work)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait([future])
            raise
