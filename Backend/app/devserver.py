"""`make run`: the whole PayTrace on a laptop, with nothing but Python installed.

Starts embedded PostgreSQL and Redis under the data directory when DATABASE_URL /
REDIS_URL are unset (their data survives restarts), applies migrations, then runs
the API and the outbox worker as child processes and supervises them: Ctrl-C or
SIGTERM stops everything cleanly; a child that dies on its own stops everything
with a non-zero exit, so a broken process is never mistaken for a running system.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.config import BACKEND_DIR, Settings
from app.db.migrate import apply_migrations
from app.infra.embedded import ensure_servers

_POLL_S = 0.2


@dataclass
class Child:
    """One supervised process: a name for messages and the argv that starts it."""

    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)


def uvicorn_argv(app: str, host: str, port: int, log_level: str = "info") -> list[str]:
    """One uvicorn worker with the fast stack (uvloop, httptools) and no access log."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        log_level,
    ]


def api_argv(host: str, port: int, log_level: str = "info") -> list[str]:
    return uvicorn_argv("app.api.app:create_app", host, port, log_level)


def worker_available() -> bool:
    """The outbox worker is optional while it is being written: start it if it exists."""
    try:
        return importlib.util.find_spec("app.worker.__main__") is not None
    except ImportError:
        return False


def child_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, PYTHONUNBUFFERED="1")
    return env


def _die_with_parent() -> None:
    # Children live in their own process group (so that a terminal's Ctrl-C reaches
    # only the supervisor, which then stops them in order); if the supervisor is
    # SIGKILLed they must not linger holding the port, so ask Linux to SIGTERM them.
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Supervisor:
    """Starts children, notices one dying, and stops them all (SIGTERM, then SIGKILL)."""

    def __init__(
        self, children: Sequence[Child], env: dict[str, str], *, grace_s: float = 10.0
    ) -> None:
        self.children = list(children)
        self.env = env
        self.grace_s = grace_s

    def start(self) -> None:
        for child in self.children:
            child.proc = subprocess.Popen(  # noqa: S603 - argv built here, no shell
                child.argv,
                env=self.env,
                cwd=BACKEND_DIR,
                process_group=0,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

    def dead_child(self) -> Child | None:
        for child in self.children:
            if child.proc is not None and child.proc.poll() is not None:
                return child
        return None

    def stop(self) -> None:
        running = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for child in running:
            with contextlib.suppress(ProcessLookupError):
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for child in running:
            try:
                child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"devserver: {child.name} did not stop in time, killing it", file=sys.stderr)
                child.proc.kill()
                child.proc.wait()

    def run(self, stop: threading.Event, on_tick: Callable[[], None] | None = None) -> int:
        """Supervise until `stop` is set (exit 0) or a child dies (exit 1)."""
        self.start()
        try:
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


def banner(base_url: str, settings: Settings, worker: bool, embedded: bool) -> str:
    phone_cmd = "make -C Backend phone PHONE=+254712345678"
    if base_url != "http://127.0.0.1:8000":  # the make target dials the default address
        phone_cmd = f".venv/bin/python -m app.phone --phone +254712345678 --url {base_url}"
    lines = [
        "",
        "PayTrace is running" + (" on embedded PostgreSQL and Redis" if embedded else ""),
        f"  API docs       {base_url}/docs",
        f"  Health         {base_url}/health/ready",
        f"  Phone          {phone_cmd}",
    ]
    if settings.sms_sandbox_enabled:
        lines.append(f"  SMS sandbox    {base_url}/sandbox/sms   (local AT sandbox, no real SMS)")
    lines += [
        f"  Admin API      {base_url}/docs#/admin   (docs/operations.md has curl examples)",
        f"  Admin token    {_admin_token_hint(settings)}",
    ]
    lines.append(
        "  Outbox worker  " + ("running" if worker else "not started (app.worker not found)")
    )
    if embedded:
        lines.append(f"  Data           {settings.data_dir}")
    lines += ["Ctrl-C stops everything.", ""]
    return "\n".join(lines)


def _admin_token_hint(settings: Settings) -> str:
    """Where the admin bearer token comes from; never the token itself."""
    if settings.admin_token is None:
        return "none: the admin API is off (ADMIN_TOKEN is not set)"
    path = settings.dev_secrets_path
    try:
        generated = json.loads(path.read_text()).get("admin_token")
    except (OSError, ValueError):
        generated = None
    if generated == settings.admin_token.get_secret_value():
        return f'"admin_token" in {path}'
    return "ADMIN_TOKEN from the environment or Backend/.env"


def main() -> int:
    settings = Settings()  # also creates the dev secrets once, before two children race
    embedded = not settings.database_url or not settings.redis_url
    if embedded:
        print(f"devserver: starting embedded PostgreSQL/Redis under {settings.data_dir}")
    database_url, redis_url, servers = ensure_servers(
        settings.data_dir, settings.database_url, settings.redis_url
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        try:
            applied = apply_migrations(database_url)
        except RuntimeError as exc:
            # In development a migration is sometimes edited in place; say how to recover
            # instead of printing a traceback (the data is the developer's: never delete it).
            print(f"devserver: {exc}", file=sys.stderr)
            if embedded:
                print(
                    f"devserver: to rebuild the local database, stop PayTrace and delete "
                    f"{settings.data_dir / 'postgres'}",
                    file=sys.stderr,
                )
            return 1
        print(f"devserver: migrations applied: {', '.join(applied) or 'none pending'}")
        children = [Child("api", api_argv(settings.host, settings.port))]
        worker = worker_available()
        if worker:
            children.append(Child("worker", [sys.executable, "-m", "app.worker"]))
        supervisor = Supervisor(children, child_env(database_url, redis_url))
        base_url = f"http://{settings.host}:{settings.port}"
        announced = False

        def announce() -> None:
            nonlocal announced
            if not announced and probe_ready(f"{base_url}/health/ready"):
                announced = True
                print(banner(base_url, settings, worker, embedded), flush=True)

        return supervisor.run(stop, on_tick=announce)
    finally:
        servers.stop()
        print("devserver: stopped", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
