"""A cheap HTTP/1.1 load generator: plain asyncio streams, one keep-alive connection
per simulated session, requests prebuilt as bytes.

A general-purpose client (httpx, aiohttp, locust) spends more CPU per request than
the server under test does on a navigation hop; on a 2-core machine that would
measure the client. Loopback only, bounded in time: each session stops at the
deadline and the whole run is cancelled if it overstays.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# One call = the raw requests of its hops, in order (a fresh USSD session each time).
CallBuilder = Callable[[int, int], Sequence[bytes]]
ResponseCheck = Callable[[int, bytes], bool]

HOP_TIMEOUT_S = 15.0  # AT's deadline: slower than this is a failed hop anyway


def http_request(
    method: str, host: str, port: int, path: str, body: bytes = b"", headers: str = ""
) -> bytes:
    """One raw HTTP/1.1 keep-alive request (headers: extra `Name: value\\r\\n` lines)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}"
    if body or method == "POST":
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, server_closes) of one Content-Length-framed response."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    start = lower.find(b"\r\ncontent-length:")
    if start < 0:
        raise ValueError("response without Content-Length")
    end = lower.index(b"\r\n", start + 2)
    length = int(lower[start + 17 : end])
    body = await reader.readexactly(length)
    return status, body, b"\r\nconnection: close" in lower


@dataclass
class Result:
    """What one load run measured, counting only hops started after the warm-up."""

    name: str
    duration_s: float
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    # The generator's own CPU share of the run: near 100 % means it, not the server,
    # set the pace and the figures understate the server.
    generator_cpu_pct: float = 0.0
    error_samples: list[str] = field(default_factory=list)

    def record_error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 3:
            self.error_samples.append(what[:160])

    def percentile_ms(self, pct: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    @property
    def hops_per_s(self) -> float:
        return len(self.latencies_s) / self.duration_s if self.duration_s else 0.0


async def _session(
    index: int,
    host: str,
    port: int,
    build_call: CallBuilder,
    check: ResponseCheck,
    result: Result,
    measure_from: float,
    deadline: float,
    think_s: float = 0.0,
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    call_no = 0
    while time.perf_counter() < deadline:
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as exc:
                if time.perf_counter() >= measure_from:
                    result.record_error(f"connect: {exc}")
                await asyncio.sleep(0.05)  # a refused connect must not become a busy loop
                continue
        call_no += 1
        for request in build_call(index, call_no):
            started = time.perf_counter()
            if started >= deadline:
                break
            try:
                writer.write(request)
                status, body, closes = await read_response(reader)
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                if started >= measure_from:
                    result.record_error(f"{type(exc).__name__}: {exc}")
                writer.close()
                reader = writer = None
                break
            finished = time.perf_counter()
            if started >= measure_from and finished <= deadline:
                result.latencies_s.append(finished - started)
                if not check(status, body):
                    result.record_error(f"{status} {body[:120]!r}")
            if closes:
                writer.close()
                reader = writer = None
                break
            if think_s:
                # A caller reading the screen and typing; jittered, because real callers
                # are not in lockstep (lockstep sessions measure bursts, not load).
                await asyncio.sleep(think_s * random.uniform(0.5, 1.5))
    if writer is not None:
        writer.close()


async def run_load(
    name: str,
    host: str,
    port: int,
    build_call: CallBuilder,
    check: ResponseCheck,
    *,
    sessions: int,
    warmup_s: float,
    duration_s: float,
    think_s: float = 0.0,
) -> Result:
    """Run `sessions` concurrent sessions for warm-up + duration; figures cover the duration."""
    result = Result(name=name, duration_s=duration_s)
    cpu_before = time.process_time()
    now = time.perf_counter()
    measure_from, deadline = now + warmup_s, now + warmup_s + duration_s
    tasks = [
        _session(i, host, port, build_call, check, result, measure_from, deadline, think_s)
        for i in range(sessions)
    ]
    # Sessions stop themselves at the deadline; a hop stuck past AT's deadline is cut.
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), warmup_s + duration_s + HOP_TIMEOUT_S)
    except TimeoutError:
        result.record_error("run overstayed its deadline; cancelled")
    wall = time.perf_counter() - now
    result.generator_cpu_pct = 100 * (time.process_time() - cpu_before) / wall if wall else 0.0
    return result
