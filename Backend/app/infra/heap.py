"""The cyclic garbage collector's settings for a long-running PayTrace process.

After start-up an API process holds about 180,000 objects the collector tracks
(modules, FastAPI's routes and models, the SDKs' classes) and keeps every one of them
until it exits. CPython's defaults (thresholds 700, 10, 10) run a full collection
whenever the objects that survived younger ones grow by a quarter, and a full
collection walks all of them: 44-54 ms on the benchmark's machine, during which the
event loop answers nothing and every caller's hop waits. `bench-ussd` showed it as a
p90 of 105-117 ms against a p50 of 41-44 ms (docs/benchmarks.md, "The collector and the USSD hop").

So, once started, the process freezes what it holds (`gc.freeze`: the collector never
walks those objects again), and the youngest generation is collected every 10,000
allocations instead of every 700. Garbage without cycles is freed by reference counting
as always; only cycles wait a little longer. Nothing is collected before the freeze: a
full collection there found no garbage in an API process, and in a test process (far
more objects, an app started 392 times in the integration tests) it cost 0.17 s each.
Undone at shutdown, so a process that builds many apps (the tests) leaks nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Measured with bench-ussd: 2,000 allocations 4,901 hops/s, 10,000 5,388, 50,000 5,234;
# the older generations' 20 and 100 make a full collection of what came after start-up
# rare (CPython's 25 % rule still applies to it).
SERVING_THRESHOLDS = (10_000, 20, 100)


@contextmanager
def frozen_start_up_heap() -> Iterator[None]:
    """Freeze what start-up built and collect less often while serving; undo after."""
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*SERVING_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
