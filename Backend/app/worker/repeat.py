"""How every background loop of the worker runs its step: again and again until the stop
event is set, never raising, a missing database a warning and anything else a bug logged
with its traceback. One place, so that each loop states only what it does and when."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg2

from app.errors import ServiceUnavailable

log = logging.getLogger("paytrace.worker")

# What a background step may meet while PostgreSQL (or a provider) is away: a warning,
# and the step runs again later. Anything else is a bug: logged with its traceback.
EXPECTED: tuple[type[BaseException], ...] = (ServiceUnavailable, psycopg2.Error)


def run_until_stopped(
    stop: threading.Event,
    step: Callable[[], float | None],
    *,
    what: str,
    wait_s: float,
    retry_s: float | None = None,
    expected: tuple[type[BaseException], ...] = EXPECTED,
    logger: logging.Logger = log,
) -> None:
    """Run step() until stop is set; never raises. step returns how long to wait before
    the next run (None: wait_s). A failure waits retry_s (None: wait_s), then runs again."""
    while not stop.is_set():
        try:
            wait = step()
        except expected as exc:
            logger.warning(
                f"{what} could not run; trying again later",
                extra={"error": f"{type(exc).__name__}: {exc}"},
            )
            wait = retry_s
        except Exception:
            logger.exception(f"{what} failed; trying again later")
            wait = retry_s
        stop.wait(wait_s if wait is None else wait)
