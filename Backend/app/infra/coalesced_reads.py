"""Reads of one kind asked at once, sent as one: while a read is out, the keys asked
meanwhile wait and go together in the next, one hand-off to a service thread and one
statement for all.

Built for the USSD first hop of a caller no cache knows (a new number, a profile that
expired from Redis), which reads the caller's profile from PostgreSQL. One read per
hop, each its own hand-off and round trip, was a third of the event loop's CPU on such
a hop (0.10 of 0.28 ms; docs/benchmarks.md, "First hops' profile reads, coalesced"),
and a wave of them (an SMS campaign's callers, a Redis that restarted) is exactly when
that CPU is short. A quiet process reads each key alone, as before, with no wait added:
a key waits only while `at_once` reads are already out.

The answers are the same as one read per key: each caller gets its key's value, or
None where `read_many` found none, or the exception the read raised (or, once the
threads are shut down, the error their refusal raised: never a wait for nothing). A caller
cancelled while it waits (a hop's deadline) stops waiting at once; a key whose every
caller was cancelled before its read went out is not read.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Hashable, Mapping
from functools import partial
from typing import Generic, TypeVar

from app.infra.worker_threads import WorkerThreads

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_Waiting = dict[K, list[asyncio.Future]]


class CoalescedReads(Generic[K, V]):
    def __init__(
        self,
        threads: WorkerThreads,
        read_many: Callable[[list[K]], Mapping[K, V]],
        *,
        at_once: int = 2,
        most: int = 200,
    ) -> None:
        """`read_many(keys)` runs on `threads` and answers the keys it found; at most
        `at_once` of them are out at a time, each with at most `most` keys."""
        if at_once < 1 or most < 1:
            raise ValueError("at_once and most must be at least 1")
        self._threads = threads
        self._read_many = read_many
        self._at_once = at_once
        self._most = most
        self._waiting: _Waiting = {}
        self._out = 0

    async def get(self, key: K) -> V | None:
        """key's value as read_many answers it, or None; raises what read_many raised."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._out < self._at_once:
            self._send()
        return await future

    def _send(self) -> None:
        batch = self._take()
        if not batch:
            return
        try:
            out = self._threads.submit(partial(self._read_many, list(batch)))
        except RuntimeError as exc:  # the threads shut down: nothing will read these
            _fail(batch, exc)
            return
        self._out += 1
        out.add_done_callback(partial(self._answer, batch))

    def _take(self) -> _Waiting:
        """Up to `most` keys that someone still waits for, oldest first."""
        if len(self._waiting) <= self._most:
            taken, self._waiting = self._waiting, {}
        else:
            taken = dict(itertools.islice(self._waiting.items(), self._most))
            for key in taken:
                del self._waiting[key]
        return {
            key: futures
            for key, futures in taken.items()
            if not all(future.done() for future in futures)
        }

    def _answer(self, batch: _Waiting, out: asyncio.Future[Mapping[K, V]]) -> None:
        self._out -= 1
        if out.cancelled():  # the threads shut down: the read never ran
            for futures in batch.values():
                for future in futures:
                    future.cancel()
        elif (error := out.exception()) is not None:
            _fail(batch, error)
        else:
            found = out.result()
            for key, futures in batch.items():
                value = found.get(key)
                for future in futures:
                    if not future.done():
                        future.set_result(value)
        if self._waiting:
            self._send()


def _fail(batch: _Waiting, error: BaseException) -> None:
    for futures in batch.values():
        for future in futures:
            if not future.done():
                future.set_exception(error)
