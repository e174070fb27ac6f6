"""PIN checks per second per core: argon2id at production cost, as the API runs it.

One thread, then PayTrace's PIN pool (app/infra/pin_pool.py) at its default size (one
thread per core the process may run on), each for a few seconds. The per-core figure
is checks per CPU-second, which a machine that other work loads changes less than it
changes checks per wall-second; both are printed.

    python -m bench.pin_checks [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time

from app.config import Settings
from app.infra.pin_pool import PinPool
from app.services.pins import PinHasher

PIN = "4826"


async def _pooled(hasher: PinHasher, pin_hash: str, workers: int, seconds: float):
    pool = PinPool(workers)
    deadline = time.monotonic() + seconds
    done = 0

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            if not await pool.run(lambda: hasher.verify(pin_hash, PIN)):
                raise SystemExit("bench: the PIN check refused the right PIN")
            done += 1

    wall, cpu = time.perf_counter(), time.process_time()
    try:
        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        pool.close()
    return done, time.perf_counter() - wall, time.process_time() - cpu


def measure(seconds: float = 3.0) -> str:
    """The figures, one line each (widens this process's CPU affinity to every core)."""
    if hasattr(os, "sched_setaffinity"):  # the load generator pinned itself to one core
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, range(os.cpu_count() or 1))
    settings = Settings(_env_file=None, environment="test")
    hasher = PinHasher(
        "bench-pepper",
        time_cost=settings.pin_kdf_time_cost,
        memory_kib=settings.pin_kdf_memory_kib,
    )
    pin_hash = hasher.hash(PIN)
    cores = settings.pin_checks_in_flight
    lines = [
        f"PIN checks (argon2id t={settings.pin_kdf_time_cost}, "
        f"{settings.pin_kdf_memory_kib} KiB), {cores} cores:"
    ]
    for workers in (1, cores):
        done, wall, cpu = asyncio.run(_pooled(hasher, pin_hash, workers, seconds))
        lines.append(
            f"  {workers} thread(s): {done / wall:.1f} checks/s, "
            f"{done / cpu:.1f} per CPU-second (per core)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    print(measure(parser.parse_args(argv).seconds))


if __name__ == "__main__":
    main()
