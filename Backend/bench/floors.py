"""The machine's floor for a committed write, and where the CPU went.

A transfer is a PostgreSQL transaction that changes rows and commits; the least
such a transaction can cost on this machine is one single-row UPDATE and its
COMMIT. Measured two ways in the same run as the transfers, with the same number
of concurrent clients: through PayTrace's own pool and driver (psycopg2, Python
threads: what our service layer could at best reach) and with pgbench (C, no
Python: what PostgreSQL and the disk allow). Spread over many rows, or all onto
one row: the hot floor is one row lock held through each commit, one after another.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions

from app.db.pool import Database
from bench.ledger_workers import OperationFactory, PhaseResult, Window


def create_table(dsn: str, rows: int) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)")
            cur.execute(
                "INSERT INTO bench_floor SELECT g, 0 FROM generate_series(1, %(rows)s) g",
                {"rows": rows},
            )
        conn.commit()
    finally:
        conn.close()


def update_one(rows: int, hot: bool) -> OperationFactory:
    """One transaction: UPDATE one row (random, or always row 1) and COMMIT."""
    sql = "UPDATE bench_floor SET n = n + 1 WHERE id = %(id)s"

    def make(database: Database, rng, _tag: str) -> Callable[[], object]:
        def one() -> None:
            with database.connection() as conn, conn.cursor() as cur:
                cur.execute(sql, {"id": 1 if hot else rng.randint(1, rows)})
                conn.commit()

        return one

    return make


@dataclass(frozen=True)
class PgbenchResult:
    tps: float
    latency_ms: float


def pgbench(dsn: str, rows: int, hot: bool, args: argparse.Namespace) -> PgbenchResult | None:
    """The same transaction from pgbench (same clients, same duration); None without it."""
    binary = shutil.which("pgbench")
    if binary is None:
        return None
    script = "\\set id 1\n" if hot else f"\\set id random(1, {rows})\n"
    script += "BEGIN;\nUPDATE bench_floor SET n = n + 1 WHERE id = :id;\nCOMMIT;\n"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as file:
        file.write(script)
        file.flush()
        argv = [binary, "-n", "-c", str(args.threads), "-j", str(min(cores, args.threads))]
        argv += ["-T", str(max(1, round(args.duration))), "-f", file.name, dsn]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    tps = re.search(r"^tps = ([0-9.]+)", done.stdout, re.M)
    latency = re.search(r"^latency average = ([0-9.]+) ms", done.stdout, re.M)
    if done.returncode != 0 or tps is None or latency is None:
        print(f"bench: pgbench failed ({done.returncode}): {done.stderr.strip()[:300]}")
        return None
    return PgbenchResult(float(tps.group(1)), float(latency.group(1)))


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot; iowait counts as idle."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


# How long before a phase's deadline its closing CPU sample is taken (CpuMeter.watch).
END_SAMPLE_EARLY_S = 0.2


def _postgres_cpu_s(dsn: str) -> dict[int, float]:
    """CPU seconds, by pid, of our database's backends and the server's own processes
    (WAL writer, checkpointer...): not of other databases on a shared server."""
    import psutil  # pgserver's dependency, so always installed with the dev extras

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() OR datname IS NULL"
            )
            pids = [row[0] for row in cur.fetchall()]
    finally:
        conn.close()
    seconds = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            seconds[pid] = times.user + times.system
    return seconds


class CpuMeter:
    """Machine and PostgreSQL CPU over a phase's measured window, sampled at its edges."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._samples: list[tuple[float, tuple[int, int], dict[int, float]]] = []
        self._thread: threading.Thread | None = None
        self._window_s = 0.0

    def watch(self, window: Window) -> None:
        self._window_s = window.deadline - window.measure_from

        def sample_at(moment: float) -> None:
            delay = moment - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            postgres = _postgres_cpu_s(self._dsn)
            self._samples.append((time.monotonic(), _machine_ticks(), postgres))

        def run() -> None:
            sample_at(window.measure_from)
            # A little before the deadline: the workers close their pools as it passes,
            # and a backend that has exited can no longer be read (its CPU was counted
            # as "other"). The rates are over the samples' own interval.
            sample_at(window.deadline - END_SAMPLE_EARLY_S)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def read(self, client_cpu_s: float) -> dict[str, float]:
        """CPU in % of one core: machine busy, our client, PostgreSQL, anything else."""
        if self._thread is not None:
            self._thread.join()
        if len(self._samples) < 2:
            return {}
        (t0, (b0, n0), pg0), (t1, (b1, n1), pg1) = self._samples[:2]
        wall = t1 - t0
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        busy = 100 * cores * (b1 - b0) / (n1 - n0) if n1 > n0 else 0.0
        # Per process: a backend that started in the window counts from zero; one
        # that ended in it is lost (the pools stay open until the deadline).
        postgres_s = sum(cpu - pg0.get(pid, 0.0) for pid, cpu in pg1.items())
        # The workers measure their own CPU over the whole window.
        client = 100 * client_cpu_s / (self._window_s or wall)
        postgres = 100 * postgres_s / wall
        return {
            "busy": busy,
            "client": client,
            "postgres": postgres,
            "other": max(0.0, busy - client - postgres),
        }


class WaitSampler:
    """What our database's backends are doing, sampled from pg_stat_activity.

    PostgreSQL's own account of a phase: waiting for a row lock held by another
    transfer (Lock), for the WAL flush of a COMMIT (IO/LWLock:WAL...), on CPU
    (active, no wait), or idle in a transaction waiting for Python to send the
    next statement (Client:ClientRead).
    """

    def __init__(self, dsn: str, every_s: float = 0.02) -> None:
        self._dsn, self._every_s = dsn, every_s
        self._counts: dict[str, int] = {}
        self._samples = 0
        self._thread: threading.Thread | None = None

    def watch(self, window: Window) -> None:
        self._thread = threading.Thread(target=self._run, args=(window,), daemon=True)
        self._thread.start()

    def _run(self, window: Window) -> None:
        conn = psycopg2.connect(self._dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                delay = window.measure_from - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                while time.monotonic() < window.deadline:
                    cur.execute(
                        """
                        SELECT CASE WHEN state = 'idle' THEN 'idle between transactions'
                                    WHEN wait_event IS NULL THEN 'on CPU (active, no wait)'
                                    ELSE wait_event_type || ':' || wait_event END, count(*)
                        FROM pg_stat_activity
                        WHERE datname = current_database() AND pid <> pg_backend_pid()
                          AND backend_type = 'client backend'
                        GROUP BY 1
                        """
                    )
                    for what, count in cur.fetchall():
                        self._counts[what] = self._counts.get(what, 0) + count
                    self._samples += 1
                    time.sleep(self._every_s)
        finally:
            conn.close()

    def read(self) -> list[tuple[str, float]]:
        """(state, average number of backends in it), most first."""
        if self._thread is not None:
            self._thread.join()
        if not self._samples:
            return []
        averages = [(what, count / self._samples) for what, count in self._counts.items()]
        return sorted(averages, key=lambda item: -item[1])


def table(rows: list[tuple[PhaseResult, PhaseResult, PgbenchResult | None, dict]], targets) -> str:
    """One line per phase: our figures, the target, each floor and our share of it."""
    head = (
        f"{'phase':<9}{'xfers/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'count':>7}{'refused':>8}"
        f"{'errors':>7}  {'target/s':<12}{'floor/s':>8}{'p99 ms':>7}{'ratio':>6}"
        f"{'pgbench/s':>10}{'ratio':>6}  {'CPU % of a core':<15}"
    )
    lines = [head, " " * head.index("CPU") + "busy/ours/pg/other", "-" * (len(head) + 4)]
    for result, floor, bench, cpu in rows:
        target = targets[result.name]
        verdict = f">={target} {'met' if result.per_s >= target else 'MISSED'}"
        pg = (
            f"{bench.tps:>10.0f}{_ratio(result.per_s, bench.tps):>6.2f}"
            if bench
            else f"{'-':>10}{'-':>6}"
        )
        use = "/".join(f"{cpu[k]:.0f}" for k in ("busy", "client", "postgres", "other"))
        lines.append(
            f"{result.name:<9}{result.per_s:>8.0f}{result.percentile_ms(50):>8.1f}"
            f"{result.percentile_ms(99):>8.1f}{result.done:>7}{sum(result.refusals.values()):>8}"
            f"{sum(result.errors.values()):>7}  {verdict:<12}{floor.per_s:>8.0f}"
            f"{floor.percentile_ms(99):>7.1f}{_ratio(result.per_s, floor.per_s):>6.2f}"
            f"{pg}  {use if cpu else '-'}"
        )
    return "\n".join(lines)


def _ratio(ours: float, floor: float) -> float:
    return ours / floor if floor else 0.0
