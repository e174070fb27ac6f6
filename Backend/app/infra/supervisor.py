"""`make run`'s supervisor: starts child processes in order, notices one dying, and
stops them all, each with its process group, within bounded time.

Each child runs in a process group of its own (a terminal's Ctrl-C then reaches only
the supervisor, which stops the children in dependency order), and a stop signals the
whole group, so nothing a child started outlives it. A child gets SIGTERM and a grace
period, then SIGKILL; a second stop request (`hurry`) skips what is left of the grace.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.config import BACKEND_DIR
from app.infra.stop_flag import StopFlag

_POLL_S = 0.2


@dataclass
class Child:
    """One supervised process: a name for messages and the argv that starts it.

    A child with a `ready_url` is a service the children after it depend on: the
    supervisor starts nothing more until that URL answers 200 (then runs `on_ready`),
    and stops it only after the children started after it have stopped.
    """

    name: str
    argv: list[str]
    ready_url: str | None = None
    on_ready: Callable[[], None] | None = field(default=None, repr=False)
    ready_timeout_s: float = 30.0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)


class StartFailed(RuntimeError):
    """A service never became ready, or preparing it failed: nothing is left running."""


def _die_with_parent() -> None:
    # Children live in their own process group (so that a terminal's Ctrl-C reaches
    # only the supervisor, which then stops them in order); if the supervisor is
    # SIGKILLed they must not linger holding the port, so ask Linux to SIGTERM them.
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _signal_group(child: Child, sig: signal.Signals) -> None:
    """`sig` to the child's whole process group: whatever it started goes with it."""
    assert child.proc is not None
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.proc.pid, sig)


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Exited, but not reaped yet: its PID, and so its process group's id, stay reserved
    until wait(), so the group can still be swept without hitting a stranger."""
    if proc.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


class Supervisor:
    """Starts children, notices one dying, and stops them all (SIGTERM, then SIGKILL),
    each with its process group."""

    def __init__(
        self,
        children: Sequence[Child],
        env: dict[str, str],
        *,
        grace_s: float = 10.0,
        hurry: Callable[[], bool] = lambda: False,
    ) -> None:
        self.children = list(children)
        self.env = env
        self.grace_s = grace_s
        # True once a second stop request came: no more grace, SIGKILL what is left.
        self.hurry = hurry

    def start(self, stop: StopFlag | threading.Event | None = None) -> None:
        """Start the children in order, waiting for each service the next ones need.
        Returns early, with the rest not started, once `stop` is set; raises
        StartFailed when a service dies, never answers, or its `on_ready` fails."""
        for child in self.children:
            if stop is not None and stop.is_set():
                return
            child.proc = subprocess.Popen(  # noqa: S603 - argv built here, no shell
                child.argv,
                env=self.env,
                cwd=BACKEND_DIR,
                process_group=0,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
            ready = child.ready_url is not None and self._wait_ready(child, stop)
            if ready and child.on_ready is not None:
                child.on_ready()

    def _wait_ready(self, child: Child, stop: StopFlag | threading.Event | None) -> bool:
        """True once the child answers; False if a stop was asked for meanwhile."""
        assert child.proc is not None and child.ready_url is not None
        stop = stop or threading.Event()
        deadline = time.monotonic() + child.ready_timeout_s
        while not probe_ready(child.ready_url):
            code = child.proc.poll()
            if code is not None:
                raise StartFailed(f"{child.name} exited ({code}) before it was ready")
            if time.monotonic() > deadline:
                raise StartFailed(
                    f"{child.name} did not answer {child.ready_url} "
                    f"within {child.ready_timeout_s:g} s"
                )
            if stop.wait(_POLL_S):
                return False
        return True

    def dead_child(self) -> Child | None:
        for child in self.children:
            if child.proc is not None and child.proc.poll() is not None:
                return child
        return None

    def stop(self) -> None:
        """Stop in reverse dependency order: the children started after a service stop
        (together) before it does."""
        waves: list[list[Child]] = [[]]
        for child in self.children:
            waves[-1].append(child)
            if child.ready_url is not None:
                waves.append([])
        for wave in reversed(waves):
            self._stop_together(wave)

    def _stop_together(self, children: Sequence[Child]) -> None:
        pending = [c for c in children if c.proc is not None and c.proc.returncode is None]
        for child in pending:
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        while pending:
            for child in [c for c in pending if _exited(c.proc)]:
                _signal_group(child, signal.SIGKILL)  # anything it left behind
                child.proc.wait()
                pending.remove(child)
            if not pending:
                return
            if self.hurry() or time.monotonic() >= deadline:
                for child in pending:
                    print(
                        f"devserver: {child.name} did not stop in time, killing it", file=sys.stderr
                    )
                    _signal_group(child, signal.SIGKILL)
                for child in pending:
                    child.proc.wait()
                return
            time.sleep(0.05)

    def run(
        self, stop: StopFlag | threading.Event, on_tick: Callable[[], None] | None = None
    ) -> int:
        """Supervise until `stop` is set (exit 0) or a child dies or fails to start (exit 1)."""
        try:
            try:
                self.start(stop)
            except StartFailed as exc:
                print(f"devserver: {exc}; stopping", file=sys.stderr)
                return 1
            while not stop.wait(_POLL_S):
                dead = self.dead_child()
                if dead is not None:
                    code = dead.proc.returncode if dead.proc else None
                    print(f"devserver: {dead.name} exited ({code}); stopping", file=sys.stderr)
                    return 1
                if on_tick is not None:
                    on_tick()
            return 0
        finally:
            self.stop()


def probe_ready(url: str) -> bool:
    """One readiness check: True once the API answers 200 (PostgreSQL and Redis reachable)."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own URL
            return response.status == 200
    except OSError:
        return False
