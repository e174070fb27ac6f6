"""`make -C Backend bench-ledger-statements`: a transfer's PostgreSQL time, statement by
statement, including the statements inside ledger_transfer and its triggers.

`bench-ledger`'s trace times round trips; inside one call of ledger_transfer it can only
name the PL/pgSQL functions. This runs transfers one after another on one connection
(no contention: each figure is the work itself) against a server that has
pg_stat_statements loaded with `pg_stat_statements.track = all`, so every nested
statement (an INSERT in the function, the leg trigger's UPDATE, a foreign key's check)
is counted with its execution time, and prints them per transfer, most expensive first,
with the backend's CPU per transfer beside them.

The embedded server has no pg_stat_statements. Point BENCH_DATABASE_URL at one that has
(a private cluster of the distribution's PostgreSQL: docs/benchmarks.md says how);
without it this says what it needs and exits 2.

    python -m bench.ledger_statements [--users 400] [--transfers 2000]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

import psycopg2

from bench.ledger_load import set_up_users, transfers
from bench.ledger_trace import OneConnection
from bench.scratch_db import scratch_database, server_summary

NEEDS = (
    "needs BENCH_DATABASE_URL naming a PostgreSQL with shared_preload_libraries ="
    " 'pg_stat_statements' and pg_stat_statements.track = all (docs/benchmarks.md)"
)
SHOWN = 25


def _statements(cur) -> list[tuple[int, float, bool, str]]:
    cur.execute(
        """
        SELECT calls, total_exec_time, toplevel, regexp_replace(query, '\\s+', ' ', 'g')
        FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time DESC
        """
    )
    return cur.fetchall()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=400, help="registered, funded users")
    parser.add_argument("--transfers", type=int, default=2000, help="transfers measured")
    args = parser.parse_args(argv)
    if not os.environ.get("BENCH_DATABASE_URL"):
        print(NEEDS, file=sys.stderr)
        return 2
    with scratch_database() as scratch:
        admin = psycopg2.connect(scratch.dsn)
        admin.autocommit = True
        cur = admin.cursor()
        cur.execute("SHOW shared_preload_libraries")
        loaded = "pg_stat_statements" in cur.fetchone()[0]
        if loaded:
            cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            cur.execute("SHOW pg_stat_statements.track")
        if not loaded or cur.fetchone()[0] != "all":
            print(NEEDS, file=sys.stderr)
            return 2
        users, _ = set_up_users(scratch.dsn, args.users)
        traced = OneConnection(scratch.dsn)
        operation = transfers(users, "spread")(traced, random.Random(7), "statements")  # type: ignore[arg-type]
        for _ in range(50):  # warm caches and the functions' kept plans, not counted
            operation()
        cur.execute("SELECT pg_stat_statements_reset()")
        cpu = traced.backend_cpu_s()
        started = time.perf_counter()
        for _ in range(args.transfers):
            operation()
        wall = time.perf_counter() - started
        cpu = traced.backend_cpu_s() - cpu
        per = args.transfers
        print(f"PayTrace ledger, statement by statement; {server_summary(scratch.dsn)}")
        print(
            f"{per} transfers one after another: wall {1000 * wall / per:.2f} ms, the"
            f" backend's CPU {1000 * cpu / per:.2f} ms per transfer (pg_stat_statements'"
            " own timing included)"
        )
        print(f"{'calls':>6} {'us/transfer':>12}  statement (T: sent by the client)")
        for calls, total_ms, toplevel, query in _statements(cur)[:SHOWN]:
            if query.startswith("SELECT pg_stat_statements_reset"):
                continue
            mark = "T" if toplevel else " "
            print(f"{calls / per:>6.2f} {1000 * total_ms / per:>12.1f}  {mark} {query[:110]}")
        traced.close()
        admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
