"""The incoming watcher's streams: one stellar-sdk payments stream per watched account
(`Server.payments().for_account(a).cursor(c).join("transactions").stream()`, Horizon's
server-sent events), each read by a thread of its own, all feeding one queue that the
watcher's loop alone drains and records.

A stream resumes by itself after Horizon's byebye and after a read timeout (the SDK
reconnects from the last id it saw). When it fails (Horizon down, a refused
connection), its thread says so on the queue (`Dropped`: the watcher pages that
account from its stored cursor meanwhile) and opens it again after a pause that
doubles up to a minute.

Threads block in a socket read: `close()` makes each end at its next record or
failure, and records read after it are dropped, so nothing read by a watcher that
lost its lease is recorded. Each watched account costs one thread and one connection
to Horizon (docs/operations.md, sizing).
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass

from stellar_sdk import Server

log = logging.getLogger("paytrace.stellar.incoming")

RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0


@dataclass(frozen=True)
class Received:
    """A payment record an account's stream delivered."""

    account: str
    record: dict


@dataclass(frozen=True)
class Dropped:
    """An account's stream failed; it is opened again after `retry_s`."""

    account: str
    retry_s: float


class AccountStreams:
    """The streams of one watching session (while the watcher holds its lease)."""

    def __init__(self, server: Server, page_size: int) -> None:
        self._server = server
        self._page_size = page_size
        self._events: queue.Queue[Received | Dropped] = queue.Queue()
        self._closed = threading.Event()
        self._threads: dict[str, threading.Thread] = {}
        self.down: set[str] = set()  # accounts whose stream failed and is not back yet

    def follow(self, account: str, cursor: str) -> None:
        """Stream account's payments after cursor (no-op if already followed)."""
        if account in self._threads or self._closed.is_set():
            return
        thread = threading.Thread(
            target=self._read,
            args=(account, cursor),
            name=f"stellar-stream-{account[:6]}",
            daemon=True,
        )
        self._threads[account] = thread
        thread.start()

    @property
    def followed(self) -> int:
        return len(self._threads)

    def next(self, timeout_s: float) -> Received | Dropped | None:
        """The next event of any stream, or None after timeout_s."""
        try:
            event = self._events.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if isinstance(event, Dropped):
            self.down.add(event.account)
        else:
            self.down.discard(event.account)
        return event

    def close(self) -> None:
        self._closed.set()

    def _read(self, account: str, cursor: str) -> None:
        pause = RETRY_FIRST_S
        while not self._closed.is_set():
            try:
                builder = (
                    self._server.payments()
                    .for_account(account)
                    .join("transactions")  # each payment's memo, which may name a pay order
                    .cursor(cursor)
                    .limit(self._page_size)
                )
                for record in builder.stream():
                    if self._closed.is_set():
                        return
                    self._events.put(Received(account, record))
                    cursor = str(record["paging_token"])
                    pause = RETRY_FIRST_S
            except Exception as exc:  # the SDK's StreamClientError, or anything odd
                if self._closed.is_set():
                    return
                log.warning(
                    "stellar stream failed; paging meanwhile",
                    extra={"account": account, "error": type(exc).__name__, "retry_s": pause},
                )
                self._events.put(Dropped(account, pause))
                self._closed.wait(pause)
                pause = min(pause * 2, RETRY_MAX_S)
