"""PIN checks run on threads of their own (app/infra/pin_pool.py): below the event
loop's priority on Linux, with the caller's context, and a caller cut off by a
deadline still waits for the work it started, as the shared thread pool does."""

import asyncio
import contextvars
import os
import sys
import threading

import pytest

from app.infra.pin_pool import NICENESS, PinPool

REQUEST = contextvars.ContextVar("request", default="none")


def test_work_runs_on_a_pin_thread_with_the_callers_context():
    pool = PinPool(2)

    async def main():
        REQUEST.set("req-1")
        return await pool.run(lambda: (threading.current_thread().name, REQUEST.get()))

    try:
        name, seen = asyncio.run(main())
    finally:
        pool.close()
    assert name.startswith("pin-check")
    assert seen == "req-1"


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priority is Linux's")
def test_pin_threads_run_below_the_event_loops_priority():
    pool = PinPool(1)
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    async def main():
        return await pool.run(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    try:
        theirs = asyncio.run(main())
    finally:
        pool.close()
    assert theirs == min(mine + NICENESS, 19)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine


def test_a_caller_past_its_deadline_waits_for_the_work_it_started():
    pool = PinPool(1)
    release, finished = threading.Event(), threading.Event()

    def work():
        release.wait(5)
        finished.set()

    async def main():
        asyncio.get_running_loop().call_later(0.2, release.set)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await pool.run(work)
        return finished.is_set()

    try:
        assert asyncio.run(main()) is True
    finally:
        pool.close()
