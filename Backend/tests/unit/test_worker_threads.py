"""Blocking work handed off the event loop (app/infra/worker_threads.py): on the pool's
own threads, with the caller's context, as many at once as it has threads; a caller cut
off by a deadline stops waiting while the work runs its course, and work not yet
started is dropped."""

import asyncio
import contextvars
import threading

import pytest

from app.infra.worker_threads import WorkerThreads

REQUEST = contextvars.ContextVar("request", default="none")


def test_work_runs_on_the_pools_threads_with_the_callers_context():
    pool = WorkerThreads(2, "service")

    async def main():
        REQUEST.set("req-7")
        return await pool.run(lambda: (threading.current_thread().name, REQUEST.get()))

    try:
        name, seen = asyncio.run(main())
    finally:
        pool.close()
    assert name.startswith("service")
    assert seen == "req-7"


def test_as_many_works_run_at_once_as_the_pool_has_threads():
    pool = WorkerThreads(3, "service")
    together = threading.Barrier(3, timeout=5)  # broken unless all three are in at once

    async def main():
        return await asyncio.gather(*(pool.run(together.wait) for _ in range(3)))

    try:
        assert sorted(asyncio.run(main())) == [0, 1, 2]
    finally:
        pool.close()


def test_a_caller_past_its_deadline_stops_waiting_and_the_work_runs_its_course():
    pool = WorkerThreads(1, "service")
    release, finished = threading.Event(), threading.Event()
    never_started = threading.Event()

    def work():
        release.wait(5)
        finished.set()

    async def main():
        started = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                # The second waits behind the first (one thread): cancelled unstarted.
                await asyncio.gather(pool.run(work), pool.run(never_started.set))
        waited = asyncio.get_running_loop().time() - started
        release.set()
        return waited

    try:
        assert asyncio.run(main()) < 1.0  # not held until the work ends
        assert finished.wait(5)
    finally:
        pool.close()
    assert not never_started.is_set()


def test_an_error_in_the_work_reaches_the_caller():
    pool = WorkerThreads(1, "service")

    def work():
        raise LookupError("no such account")

    try:
        with pytest.raises(LookupError, match="no such account"):
            asyncio.run(pool.run(work))
    finally:
        pool.close()
