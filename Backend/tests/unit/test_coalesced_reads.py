"""Reads asked at once, sent as one (app/infra/coalesced_reads.py): a key asked while
`at_once` reads are out waits and goes with every other waiting key in the next read;
each caller gets its own key's answer, None where none was found, or the read's error;
a caller cut off by a deadline stops waiting, and a key no one waits for any more is
not read."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from app.infra.coalesced_reads import CoalescedReads
from app.infra.worker_threads import WorkerThreads

WAIT_S = 5


class Store:
    """read_many over a dict, each read held until let go, every read's keys recorded."""

    def __init__(self, values: dict[str, int], held: bool = True) -> None:
        self.values = values
        self.reads: list[list[str]] = []
        self.started = threading.Semaphore(0)
        self.go = threading.Event()
        if not held:
            self.go.set()
        self.error: Exception | None = None

    def read_many(self, keys: list[str]) -> dict[str, int]:
        self.reads.append(list(keys))
        self.started.release()
        assert self.go.wait(WAIT_S), "never let go"
        if self.error is not None:
            raise self.error
        return {key: self.values[key] for key in keys if key in self.values}


def _run(main):
    """main() on a new loop, failed (not hung) if a caller is never answered."""
    return asyncio.run(asyncio.wait_for(main, WAIT_S))


@pytest.fixture
def threads() -> Iterator[WorkerThreads]:
    pool = WorkerThreads(4, "service")
    yield pool
    pool.close()


async def _started(store: Store, reads: int) -> None:
    """Until `reads` reads have begun on their threads."""
    for _ in range(reads):
        assert await asyncio.to_thread(store.started.acquire, True, WAIT_S)


def test_keys_asked_while_a_read_is_out_go_together_in_the_next(threads):
    store = Store({"a": 1, "b": 2, "c": 3})
    reads = CoalescedReads(threads, store.read_many, at_once=1)

    async def main():
        first = asyncio.ensure_future(reads.get("a"))
        await _started(store, 1)
        rest = [asyncio.ensure_future(reads.get(key)) for key in ("b", "x", "c", "b")]
        await asyncio.sleep(0.05)
        assert len(store.reads) == 1  # the others wait for the read that is out
        store.go.set()
        return await first, await asyncio.gather(*rest)

    first, rest = _run(main())
    assert first == 1
    assert rest == [2, None, 3, 2]  # each its own answer; "x" was not found
    assert store.reads == [["a"], ["b", "x", "c"]]  # "b" read once for both callers


def test_a_quiet_caller_is_read_at_once_up_to_at_once_reads_out(threads):
    store = Store({"a": 1, "b": 2, "c": 3})
    reads = CoalescedReads(threads, store.read_many, at_once=2)

    async def main():
        calls = [asyncio.ensure_future(reads.get("a"))]
        await _started(store, 1)
        calls.append(asyncio.ensure_future(reads.get("b")))
        await _started(store, 1)  # the second read went out without waiting
        calls.append(asyncio.ensure_future(reads.get("c")))
        await asyncio.sleep(0.05)
        assert store.reads == [["a"], ["b"]]  # "c" waits: two are out
        store.go.set()
        return await asyncio.gather(*calls)

    assert _run(main()) == [1, 2, 3]
    assert store.reads == [["a"], ["b"], ["c"]]


def test_a_read_takes_at_most_most_keys_and_the_rest_go_next(threads):
    store = Store({str(n): n for n in range(7)})
    reads = CoalescedReads(threads, store.read_many, at_once=1, most=3)

    async def main():
        first = asyncio.ensure_future(reads.get("0"))
        await _started(store, 1)
        rest = [asyncio.ensure_future(reads.get(str(n))) for n in range(1, 7)]
        await asyncio.sleep(0.01)
        store.go.set()
        return [await first, *await asyncio.gather(*rest)]

    assert _run(main()) == list(range(7))
    assert store.reads == [["0"], ["1", "2", "3"], ["4", "5", "6"]]


def test_every_caller_of_a_failed_read_gets_its_error_and_later_reads_go_on(threads):
    store = Store({"a": 1, "b": 2})
    reads = CoalescedReads(threads, store.read_many, at_once=1)

    async def main():
        first = asyncio.ensure_future(reads.get("a"))
        await _started(store, 1)
        second = asyncio.ensure_future(reads.get("b"))
        store.error = RuntimeError("database unavailable")
        store.go.set()
        outcomes = await asyncio.gather(first, second, return_exceptions=True)
        store.error = None
        return outcomes, await reads.get("b")

    outcomes, later = _run(main())
    assert [str(o) for o in outcomes] == ["database unavailable"] * 2
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    assert later == 2


def test_a_caller_cut_off_stops_waiting_and_a_key_no_one_waits_for_is_not_read(threads):
    store = Store({"a": 1, "b": 2, "c": 3})
    reads = CoalescedReads(threads, store.read_many, at_once=1)

    async def main():
        first = asyncio.ensure_future(reads.get("a"))
        await _started(store, 1)
        with pytest.raises(TimeoutError):  # a hop's deadline, while "a" is out
            await asyncio.wait_for(reads.get("b"), 0.05)
        kept = asyncio.ensure_future(reads.get("c"))
        await asyncio.sleep(0)
        store.go.set()
        return await first, await kept

    assert _run(main()) == (1, 3)
    assert store.reads == [["a"], ["c"]]


def test_callers_of_a_read_the_threads_never_ran_are_cancelled():
    pool = WorkerThreads(1, "service")
    blocker = threading.Event()
    reads = CoalescedReads(pool, lambda keys: {k: k for k in keys}, at_once=1)

    async def main():
        busy = asyncio.ensure_future(pool.run(lambda: blocker.wait(WAIT_S)))
        await asyncio.sleep(0.01)
        waiting = asyncio.ensure_future(reads.get("a"))  # queued behind the busy thread
        await asyncio.sleep(0.01)
        pool.close()  # shut down: work not started is cancelled
        blocker.set()
        await busy
        return await asyncio.gather(waiting, return_exceptions=True)

    [outcome] = _run(main())
    assert isinstance(outcome, asyncio.CancelledError)


def test_a_caller_waiting_when_the_threads_shut_down_gets_their_error_not_a_wait():
    pool = WorkerThreads(1, "service")
    store = Store({"a": 1, "b": 2})
    reads = CoalescedReads(pool, store.read_many, at_once=1)

    async def main():
        first = asyncio.ensure_future(reads.get("a"))
        await _started(store, 1)
        second = asyncio.ensure_future(reads.get("b"))  # waits for "a"'s read
        await asyncio.sleep(0.01)
        pool.close()  # "a"'s read runs its course; no read can go out after it
        store.go.set()
        return await first, *await asyncio.gather(second, return_exceptions=True)

    first, second = _run(main())
    assert first == 1
    assert isinstance(second, RuntimeError)
    assert store.reads == [["a"]]


@pytest.mark.parametrize("at_once, most", [(0, 1), (1, 0)])
def test_at_once_and_most_are_at_least_one(threads, at_once, most):
    with pytest.raises(ValueError):
        CoalescedReads(threads, dict, at_once=at_once, most=most)
