"""Where one transfer's time goes: round trips, each statement's cost, Python CPU.

Runs transfers one after another on a single traced connection (no contention),
so each figure is the cost of the work itself. Every cursor.execute is one round
trip, labelled by the repository method that made it; psycopg2 sends BEGIN in
the same call as the first statement of a transaction (one extra round trip,
counted here), and COMMIT is timed on its own: it is where PostgreSQL waits for
the WAL flush. A statement run in autocommit mode (a transfer's ledger_transfer)
is a transaction of its own: no BEGIN, its COMMIT and WAL flush inside its time.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg2
import psycopg2.extensions

_COUNTS: dict[str, int] = defaultdict(int)
_SECONDS: dict[str, float] = defaultdict(float)


def _caller_label() -> str:
    """The first app repository method up the stack: what issued this statement."""
    frame = sys._getframe(2)
    while frame is not None:
        if "/app/db/repositories/" in frame.f_code.co_filename:
            return frame.f_code.co_qualname
        frame = frame.f_back
    return "other"


class _TracingCursor(psycopg2.extensions.cursor):
    def execute(self, query, vars=None):
        label = _caller_label()
        conn = self.connection
        if conn.status == psycopg2.extensions.STATUS_READY and not conn.autocommit:
            _COUNTS["BEGIN (sent with the next statement)"] += 1
        started = time.perf_counter()
        try:
            return super().execute(query, vars)
        finally:
            _SECONDS[label] += time.perf_counter() - started
            _COUNTS[label] += 1


class _TracingConnection(psycopg2.extensions.connection):
    def cursor(self, *args, **kwargs):
        kwargs.setdefault("cursor_factory", _TracingCursor)
        return super().cursor(*args, **kwargs)

    def commit(self) -> None:
        busy = self.status != psycopg2.extensions.STATUS_READY
        started = time.perf_counter()
        try:
            super().commit()
        finally:
            if busy:  # psycopg2 sends nothing for a commit with no transaction open
                _SECONDS["COMMIT"] += time.perf_counter() - started
                _COUNTS["COMMIT"] += 1


class OneConnection:
    """The part of app.db.pool.Database a UnitOfWork uses, over one traced connection."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn = psycopg2.connect(dsn, connection_factory=_TracingConnection)

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        try:
            yield self._conn
        finally:
            if self._conn.status != psycopg2.extensions.STATUS_READY:
                self._conn.rollback()

    def round_trip_ms(self, samples: int = 500) -> float:
        """The median time of `SELECT 1` outside a transaction: one bare round trip."""
        self._conn.autocommit = True
        timings = []
        with self._conn.cursor(cursor_factory=psycopg2.extensions.cursor) as cur:
            for _ in range(samples):
                started = time.perf_counter()
                cur.execute("SELECT 1")
                cur.fetchone()
                timings.append(time.perf_counter() - started)
        self._conn.autocommit = False
        return sorted(timings)[len(timings) // 2] * 1000

    def backend_cpu_s(self) -> float:
        """CPU seconds used so far by this connection's PostgreSQL backend (same machine)."""
        import psutil

        try:
            times = psutil.Process(self._conn.info.backend_pid).cpu_times()
        except (psutil.Error, ValueError):
            # Through PgBouncer the "backend pid" is the pooler's cancel key, any number.
            return float("nan")
        return times.user + times.system

    def trigger_times(self) -> dict[str, tuple[int, float]]:
        """Calls and own time (ms) of each PL/pgSQL function (the ledger's triggers),
        counted since track_functions was set; {} when the server does not allow it."""
        self._conn.autocommit = True
        try:
            with self._conn.cursor(cursor_factory=psycopg2.extensions.cursor) as cur:
                cur.execute("SELECT pg_stat_force_next_flush()")
                cur.execute("SELECT 1")
                time.sleep(0.1)  # the flush happens once the backend is idle
                cur.execute("SELECT funcname, calls, self_time FROM pg_stat_user_functions")
                return {name: (calls, ms) for name, calls, ms in cur.fetchall()}
        except psycopg2.Error:
            return {}
        finally:
            self._conn.autocommit = False

    def track_functions(self) -> bool:
        """Ask PostgreSQL to time PL/pgSQL functions on this connection (superuser)."""
        self._conn.autocommit = True
        try:
            with self._conn.cursor(cursor_factory=psycopg2.extensions.cursor) as cur:
                cur.execute("SET track_functions = 'pl'")
            return True
        except psycopg2.Error:
            return False
        finally:
            self._conn.autocommit = False

    def close(self) -> None:
        self._conn.close()


@dataclass
class Trace:
    operations: int
    wall_s: float
    python_cpu_s: float
    round_trip_ms: float
    backend_cpu_s: float
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    # PL/pgSQL function -> (calls, own ms) during the traced transfers
    triggers: dict[str, tuple[int, float]] = field(default_factory=dict)

    @property
    def round_trips(self) -> float:
        return sum(self.counts.values()) / self.operations

    def lines(self) -> list[str]:
        per = self.operations
        wall_ms = 1000 * self.wall_s / per
        waited_ms = 1000 * sum(self.seconds.values()) / per
        out = [
            f"{per} transfers one after another on one connection: {wall_ms:.2f} ms each "
            f"({1000 / wall_ms:.0f}/s), {self.round_trips:.1f} round trips each; "
            f"a bare round trip (SELECT 1) takes {self.round_trip_ms:.3f} ms",
            f"  {'round trip':<44}{'per transfer':>13}{'ms each':>9}{'ms/transfer':>13}",
        ]
        for label in sorted(self.counts, key=lambda k: -self.seconds.get(k, 0.0)):
            count, seconds = self.counts[label], self.seconds.get(label)
            each = f"{1000 * seconds / count:>9.3f}" if seconds is not None else f"{'-':>9}"
            total = f"{1000 * seconds / per:>13.3f}" if seconds is not None else f"{'-':>13}"
            out.append(f"  {label:<44}{count / per:>13.2f}{each}{total}")
        out.append(
            f"  inside execute/commit {waited_ms:.2f} ms (includes the driver's own CPU); "
            f"this process's CPU {1000 * self.python_cpu_s / per:.2f} ms; "
            f"the PostgreSQL backend's CPU {1000 * self.backend_cpu_s / per:.2f} ms; "
            f"wall {wall_ms:.2f} ms per transfer"
        )
        if self.triggers:
            timed = sorted(self.triggers.items(), key=lambda item: -item[1][1])
            each = [f"{name} {calls / per:.1f}x {ms / per:.3f} ms" for name, (calls, ms) in timed]
            out.append("  PL/pgSQL triggers, own time per transfer: " + ", ".join(each))
        return out


def trace(database: OneConnection, operation: Callable[[], object], count: int) -> Trace:
    """Run operation count times and account for its round trips and time."""
    tracked = database.track_functions()
    for _ in range(min(20, count)):  # warm caches and prepared plans, not counted
        operation()
    before = database.trigger_times() if tracked else {}
    _COUNTS.clear()
    _SECONDS.clear()
    backend = database.backend_cpu_s()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        operation()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    backend = database.backend_cpu_s() - backend
    counts, seconds = dict(_COUNTS), dict(_SECONDS)
    after = database.trigger_times() if tracked else {}
    triggers = {
        name: (calls - before.get(name, (0, 0.0))[0], ms - before.get(name, (0, 0.0))[1])
        for name, (calls, ms) in after.items()
    }
    return Trace(
        operations=count,
        wall_s=wall,
        python_cpu_s=cpu,
        round_trip_ms=database.round_trip_ms(),
        backend_cpu_s=backend,
        counts=counts,
        seconds=seconds,
        triggers={name: v for name, v in triggers.items() if v[0]},
    )
