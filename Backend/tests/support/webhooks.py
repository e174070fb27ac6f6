"""A real HTTP receiver for webhook tests: a merchant's endpoint on 127.0.0.1 that
answers from a script (fail, time out, then succeed...) and records every request."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """`answer(n)` says what the n-th request (0-based) gets: an HTTP status, or
    ('sleep', seconds) to hold the request past the sender's timeout, then 200."""

    answer: Callable[[int], int | tuple[str, float]]
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def take(self, headers: dict[str, str], body: bytes) -> int | tuple[str, float]:
        with self.lock:
            n = len(self.received)
            self.received.append(Received(headers, body))
        return self.answer(n)


@contextmanager
def receiver(answer: Callable[[int], int | tuple[str, float]]) -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 (a free port) for the duration."""
    rx = Receiver(answer)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            what = rx.take({k.lower(): v for k, v in self.headers.items()}, body)
            if isinstance(what, tuple):
                time.sleep(what[1])
                what = 200
            try:
                self.send_response(what)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender gave up waiting

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rx.url = f"http://127.0.0.1:{server.server_address[1]}/paytrace/hooks"
    try:
        yield rx
    finally:
        server.shutdown()
        server.server_close()


class Clock:
    """The worker's time, moved by the test: backoff is travelled through, never slept."""

    def __init__(self, start) -> None:
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, delta) -> None:
        self.now = self.now + delta
