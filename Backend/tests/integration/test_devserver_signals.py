"""`make run` stops everything on Ctrl-C (SIGINT) and SIGTERM: the API, the worker, the
local sandboxes, the embedded PostgreSQL and Redis, and anything they started.

The devserver runs as a real process, exactly as `make run` starts it, on embedded
servers under a temporary data directory and free ports. Every process it starts is
found by a marker in its environment (inherited by children and grandchildren alike,
even those that daemonise, as PostgreSQL does), so a process left behind is seen
wherever it was reparented."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import BACKEND_DIR
from tests.conftest import free_port

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

STARTUP_S = 60.0
# The supervisor's grace for a child (10 s) plus the embedded servers' own stop.
EXIT_BOUND_S = 25.0


def _live() -> dict[int, tuple[int, bytes, list[bytes]]]:
    """Every live process (zombies aside): pid -> (parent pid, cmdline, environment)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state not in ("Z", "X"):
            found[int(entry.name)] = (int(ppid), cmdline, environ)
    return found


def started_for(marker: str, data_dir: Path) -> set[int]:
    """The processes started for one devserver: those whose environment carries the
    marker, and the embedded servers (which rewrite their own environment area for
    their titles): PostgreSQL by its data directory, with its children; Redis by the
    socket the others were given."""
    live = _live()
    needle = f"PAYTRACE_DEVSERVER_TEST={marker}".encode()
    found = {pid for pid, (_, _, env) in live.items() if needle in env}
    sockets = {
        var.split(b"unix://", 1)[1]
        for pid in found
        for var in live[pid][2]
        if var.startswith(b"REDIS_URL=unix://")
    }
    pgdata = str(data_dir / "postgres").encode()
    servers = {
        pid
        for pid, (_, cmdline, _) in live.items()
        if pgdata in cmdline or any(sock in cmdline for sock in sockets)
    }
    backends = {pid for pid, (ppid, _, _) in live.items() if ppid in servers}
    return found | servers | backends


def listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Devserver:
    def __init__(self, data_dir: Path) -> None:
        self.marker = uuid.uuid4().hex
        self.data_dir = data_dir
        self.port = free_port()
        self.ports = [self.port, free_port(), free_port()]
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_", "REDIS_", "STELLAR_", "DARAJA_", "MPESA_"))
        }
        env.update(
            ENVIRONMENT="development",
            DATA_DIR=str(data_dir),
            HOST="127.0.0.1",
            PORT=str(self.port),
            STELLAR_LOCAL_NETWORK_PORT=str(self.ports[1]),
            DARAJA_LOCAL_SANDBOX_PORT=str(self.ports[2]),
            PAYTRACE_DEVSERVER_TEST=self.marker,
            PYTHONUNBUFFERED="1",
        )
        self.log = data_dir / "devserver.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli.devserver"],
            cwd=BACKEND_DIR,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # as a terminal would: its own group, not pytest's
        )

    def wait_healthy(self) -> set[int]:
        """Once /health answers and the worker runs: every process started for it."""
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.kill()
                pytest.fail(f"devserver exited ({self.proc.returncode}):\n{self.output()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    time.sleep(1.0)  # the worker starts with the API
                    return started_for(self.marker, self.data_dir) - {self.proc.pid}
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        pytest.fail(f"devserver never answered /health:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def exited_within(self, bound_s: float) -> float:
        started = time.monotonic()
        try:
            self.proc.wait(timeout=bound_s)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"devserver still running {bound_s:g} s after the signal:\n{self.output()}")
        return time.monotonic() - started

    def kill(self) -> None:
        """Clean up after a failed test: everything marked, by its PID."""
        for pid in started_for(self.marker, self.data_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def assert_nothing_left(self) -> None:
        deadline = time.monotonic() + 3  # a process exiting may take a moment to go
        left = started_for(self.marker, self.data_dir)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = started_for(self.marker, self.data_dir)
        if left:
            described = {pid: Path(f"/proc/{pid}/cmdline").read_bytes()[:120] for pid in left}
            self.kill()
            pytest.fail(f"processes left running: {described}\n{self.output()}")
        assert not [port for port in self.ports if listening(port)]


def postgres_ready(postmaster: Path) -> bool:
    """The server (not initdb's bootstrap) accepts connections: postmaster.pid's last
    line says so."""
    try:
        return postmaster.read_text().rstrip().endswith("ready")
    except OSError:
        return False


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """One data directory for the module: PostgreSQL is initialised once, then reused.
    Outside pytest's own temporary tree, whose 0700 folders the unprivileged user that
    pgserver runs PostgreSQL as (when tests run as root) cannot enter."""
    path = Path(tempfile.mkdtemp(prefix="paytrace-devserver-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_signal_while_the_embedded_servers_start_leaves_none_running(data_dir):
    """SIGTERM as soon as PostgreSQL is ready, before anything else is up: the
    devserver must not die on the spot and leave its embedded servers behind."""
    server = Devserver(data_dir)
    postmaster = data_dir / "postgres" / "postmaster.pid"
    deadline = time.monotonic() + STARTUP_S
    while not postgres_ready(postmaster) and server.proc.poll() is None:
        if time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"PostgreSQL never started:\n{server.output()}")
        time.sleep(0.01)

    server.proc.send_signal(signal.SIGTERM)

    server.exited_within(EXIT_BOUND_S)
    server.assert_nothing_left()


def test_sigterm_stops_every_child_and_the_embedded_servers(data_dir):
    server = Devserver(data_dir)
    children = server.wait_healthy()
    assert len(children) >= 7, children  # API, worker, 2 sandboxes, PostgreSQL (+), Redis

    server.proc.send_signal(signal.SIGTERM)

    server.exited_within(EXIT_BOUND_S)
    assert server.proc.returncode == 0, server.output()
    server.assert_nothing_left()


def test_ctrl_c_then_a_second_signal_while_stopping_still_stops_everything(data_dir):
    """Ctrl-C (SIGINT), then an impatient SIGTERM while it stops: the second one only
    hurries the stop (no grace left); nothing hangs, nothing is left behind."""
    server = Devserver(data_dir)
    server.wait_healthy()

    server.proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    server.proc.send_signal(signal.SIGTERM)

    server.exited_within(EXIT_BOUND_S)
    server.assert_nothing_left()
