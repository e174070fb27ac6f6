"""Run one operation in T threads spread over P processes for a fixed time.

Every worker thread loops: time the operation, sort the outcome into done, refused
(a PayTraceError: a business refusal such as InsufficientFunds) or error (anything
else, which a benchmark run must not have). Only operations that start after the
warm-up and end before the deadline are counted. Processes are forked, so an
operation may close over anything the parent built; each process opens its own
connection pool.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from app.db.pool import Database
from app.errors import PayTraceError

# An operation gets the worker's pool, its own Random and a counter unique to the
# worker; a factory makes one per thread (so it may keep per-thread state).
Operation = Callable[[], object]
OperationFactory = Callable[[Database, random.Random, str], Operation]


@dataclass
class PhaseResult:
    name: str
    duration_s: float
    latencies_s: list[float] = field(default_factory=list)
    refusals: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    done: int = 0
    client_cpu_s: float = 0.0  # user + system CPU of the worker processes, measured window

    def merge(self, other: PhaseResult) -> None:
        self.latencies_s.extend(other.latencies_s)
        self.refusals.update(other.refusals)
        self.errors.update(other.errors)
        self.error_samples.extend(other.error_samples[: max(0, 3 - len(self.error_samples))])
        self.done += other.done
        self.client_cpu_s += other.client_cpu_s

    @property
    def per_s(self) -> float:
        """Completed operations (not refusals) per second of the measured window."""
        return self.done / self.duration_s if self.duration_s else 0.0

    def percentile_ms(self, pct: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
        return ordered[index] * 1000


@dataclass(frozen=True)
class Window:
    start_at: float  # time.monotonic(): the same clock in every process on Linux
    measure_from: float
    deadline: float


def _thread(
    make: OperationFactory,
    database: Database,
    tag: str,
    window: Window,
    result: PhaseResult,
    lock: threading.Lock,
) -> None:
    operation = make(database, random.Random(), tag)
    mine = PhaseResult(result.name, result.duration_s)
    delay = window.start_at - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    while (started := time.monotonic()) < window.deadline:
        outcome = None
        try:
            operation()
        except PayTraceError as exc:
            outcome = type(exc).__name__
        except Exception as exc:  # a benchmark counts every failure instead of dying
            outcome = f"error:{type(exc).__name__}"
            if len(mine.error_samples) < 3:
                mine.error_samples.append(f"{type(exc).__name__}: {exc}"[:200])
        finished = time.monotonic()
        if started < window.measure_from or finished > window.deadline:
            continue
        if outcome is None:
            mine.done += 1
            mine.latencies_s.append(finished - started)
        elif outcome.startswith("error:"):
            mine.errors[outcome[6:]] += 1
        else:
            mine.refusals[outcome] += 1
            mine.latencies_s.append(finished - started)
    with lock:
        result.merge(mine)


def _process(
    name: str,
    make: OperationFactory,
    dsn: str,
    threads: int,
    window: Window,
    duration_s: float,
    proc_no: int,
) -> PhaseResult:
    database = Database(dsn, max_connections=threads)
    result = PhaseResult(name, duration_s)
    lock = threading.Lock()
    workers = [
        threading.Thread(
            target=_thread,
            args=(make, database, f"{os.getpid()}-{proc_no}-{n}", window, result, lock),
            daemon=True,
        )
        for n in range(threads)
    ]
    # CPU of the measured window only: set-up and warm-up are left out.
    for worker in workers:
        worker.start()
    _sleep_until(window.measure_from)
    cpu_before = _cpu_s()
    _sleep_until(window.deadline)
    cpu_after = _cpu_s()
    for worker in workers:
        worker.join()
    database.close()
    result.client_cpu_s = cpu_after - cpu_before
    return result


def _child(queue: multiprocessing.Queue, *args: object) -> None:
    try:
        queue.put(_process(*args))
    except BaseException as exc:  # the parent must hear of it, not wait forever
        failed = PhaseResult(str(args[0]), float(args[5]))
        failed.errors[f"worker process: {type(exc).__name__}"] += 1
        failed.error_samples.append(f"{type(exc).__name__}: {exc}"[:200])
        queue.put(failed)


def run_phase(
    name: str,
    make: OperationFactory,
    dsn: str,
    *,
    threads: int,
    procs: int,
    duration_s: float,
    warmup_s: float,
    on_window: Callable[[Window], None] | None = None,
) -> PhaseResult:
    """threads in total, split evenly over procs processes (1: all in this process).

    on_window is told the measured window before the workers start (a CPU meter).
    """
    start_at = time.monotonic() + (1.0 if procs > 1 else 0.1)
    window = Window(start_at, start_at + warmup_s, start_at + warmup_s + duration_s)
    if on_window is not None:
        on_window(window)
    if procs <= 1:
        return _process(name, make, dsn, threads, window, duration_s, 0)
    context = multiprocessing.get_context("fork")  # children inherit `make`'s closure
    queue = context.Queue()
    children = []
    for proc_no in range(procs):
        share = threads // procs + (1 if proc_no < threads % procs else 0)
        args = (name, make, dsn, share, window, duration_s, proc_no)
        child = context.Process(target=_child, args=(queue, *args), daemon=True)
        child.start()
        children.append(child)
    total = PhaseResult(name, duration_s)
    try:
        for _ in children:
            total.merge(queue.get(timeout=warmup_s + duration_s + 60))
    finally:
        for child in children:
            child.join(timeout=5)
            if child.is_alive():
                child.terminate()
    return total


def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system
