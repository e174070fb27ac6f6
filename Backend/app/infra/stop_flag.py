"""A stop request that a signal handler can make safely.

A Python signal handler runs in the main thread between two bytecodes, wherever that
thread is, including inside a lock it holds. `threading.Event.set()` takes the event's
lock: a handler calling it while the main thread was inside `Event.wait()` (which
holds that same lock around its check) blocks forever. That is how `make run` once
hung in its SIGTERM handler and left its children and embedded servers running.

So the handler here only counts (an integer add, no lock) and writes one byte to a
non-blocking pipe (a system call that never waits); `wait()` sleeps in select() on
that pipe, so a signal wakes it at once. Nothing in the handler logs or prints.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from collections.abc import Iterable


class StopFlag:
    """Set by signals (or by code); `count` tells a second request from the first."""

    def __init__(self) -> None:
        self.count = 0
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def set(self) -> None:
        """Safe in a signal handler: no lock, no allocation worth the name, no wait."""
        self.count += 1
        with contextlib.suppress(OSError):  # a full pipe already wakes the waiter
            os.write(self._write, b"\0")

    def is_set(self) -> bool:
        return self.count > 0

    @property
    def urgent(self) -> bool:
        """A second request came while stopping: stop now, no more grace."""
        return self.count > 1

    def wait(self, timeout: float | None = None) -> bool:
        """Until set or timeout seconds; returns is_set()."""
        if not self.is_set():
            with contextlib.suppress(InterruptedError, OSError, ValueError):
                select.select([self._read], [], [], timeout)
        with contextlib.suppress(OSError):
            while os.read(self._read, 512):
                pass
        return self.is_set()

    def handle(self, signum: int, frame: object) -> None:
        self.set()

    def install(self, signals: Iterable[signal.Signals] = (signal.SIGINT, signal.SIGTERM)) -> None:
        """Make these signals set the flag (call from the main thread)."""
        for sig in signals:
            signal.signal(sig, self.handle)
