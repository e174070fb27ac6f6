"""A cheap HTTP/1.1 load generator: plain asyncio streams, one keep-alive connection
per simulated session, requests prebuilt as bytes.

A general-purpose client (httpx, aiohttp, locust) spends more CPU per request than
the server under test does on a navigation hop; on a 2-core machine that would
measure the client. Loopback only, bounded in time: each session stops at the
deadline and the whole run is cancelled if it overstays.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# One call = the raw requests of its hops, in order (a fresh USSD session each time).
CallBuilder = Callable[[int, int], Sequence[bytes]]
# (hop index within the call, status, body) -> the answer is the one expected
ResponseCheck = Callable[[int, int, bytes], bool]
# hop index within the call -> what kind of hop it is, for figures per kind
HopKind = Callable[[int], str]

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
    # The same latencies sorted by kind of hop (e.g. navigation / money), when asked.
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    # The generator's own CPU share of the run: near 100 % means it, not the server,
    # set the pace and the figures understate the server.
    generator_cpu_pct: float = 0.0
    # The server process's CPU share over warm-up + run (set by the caller): near
    # 100 % of its one core means the server was saturated, and queues set latency.
    server_cpu_pct: float = float("nan")
    error_samples: list[str] = field(default_factory=list)

    def record_error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 3:
            self.error_samples.append(what[:160])

    def percentile_ms(self, pct: float) -> float:
        return percentile_ms(self.latencies_s, pct)

    @property
    def hops_per_s(self) -> float:
        return len(self.latencies_s) / self.duration_s if self.duration_s else 0.0

    def kind(self, name: str) -> Result:
        """The figures of one kind of hop alone."""
        return Result(
            name=name,
            duration_s=self.duration_s,
            latencies_s=self.by_kind.get(name, []),
            errors=self.errors_by_kind.get(name, 0),
        )


def percentile_ms(latencies_s: list[float], pct: float) -> float:
    if not latencies_s:
        return float("nan")
    ordered = sorted(latencies_s)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index] * 1000


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
    hop_kind: HopKind | None = None,
    start_after_s: float = 0.0,
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    call_no = 0
    if start_after_s:
        await asyncio.sleep(start_after_s)
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
        for hop, request in enumerate(build_call(index, call_no)):
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
                if hop_kind is not None:
                    result.by_kind.setdefault(hop_kind(hop), []).append(finished - started)
                if not check(hop, status, body):
                    result.record_error(f"hop {hop}: {status} {body[:120]!r}")
                    if hop_kind is not None:
                        kind = hop_kind(hop)
                        result.errors_by_kind[kind] = result.errors_by_kind.get(kind, 0) + 1
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
    hop_kind: HopKind | None = None,
    stagger_s: float = 0.0,
) -> Result:
    """Run `sessions` concurrent sessions for warm-up + duration; figures cover the duration.

    hop_kind, when given, also sorts each hop's latency by kind (Result.by_kind).
    stagger_s spreads the sessions' first dials evenly over that many seconds:
    with think time, sessions that all dial at once stay in step for several
    calls, and every PIN hop of a wave arrives together (a burst, not a load).
    """
    result = Result(name=name, duration_s=duration_s)
    cpu_before = time.process_time()
    now = time.perf_counter()
    measure_from, deadline = now + warmup_s, now + warmup_s + duration_s
    tasks = [
        _session(
            i,
            host,
            port,
            build_call,
            check,
            result,
            measure_from,
            deadline,
            think_s,
            hop_kind,
            stagger_s * i / sessions,
        )
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


def pin_cores(server_pids: list[int]) -> str:
    """Server on one core, load generator on the other, so neither measures the other."""
    if not hasattr(os, "sched_setaffinity"):
        return "no CPU pinning on this platform"
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return "one core: server and load generator share it"
    for pid in server_pids:
        # Affinity is per thread: pin every thread the server already has (one
        # started at boot would otherwise run on either core); later ones inherit.
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(tid), {cores[0]})
    os.sched_setaffinity(0, {cores[1]})
    return f"uvicorn on core {cores[0]}, load generator on core {cores[1]} (PG/Redis unpinned)"


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (uvicorn --workers: the master and its workers)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{tid}/children") as children:
                    pending += [int(child) for child in children.read().split()]
    return found


def process_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process and its descendants so far (NaN when
    unknown): one uvicorn worker, or all of them with --workers."""
    if pid is None:
        return float("nan")
    total = 0.0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            if member == pid:
                return float("nan")
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total
