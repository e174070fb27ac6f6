"""PayTrace as production runs it, in real OS processes: API processes (uvicorn with the
app factory, as the image's CMD) and workers (`python -m app.worker`), configured by
environment variables only, as a deployment configures them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.config import Settings

BACKEND_DIR = Path(__file__).resolve().parents[2]


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The variables a deployment sets, for `settings`' database, Redis, data directory
    (its development secrets) and network; none of the test run's own."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return keep | {
        "ENVIRONMENT": settings.environment,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_PREFIX": settings.redis_prefix,
        "DATA_DIR": str(settings.data_dir),
        "PIN_KDF_TIME_COST": str(settings.pin_kdf_time_cost),
        "PIN_KDF_MEMORY_KIB": str(settings.pin_kdf_memory_kib),
        "STELLAR_HORIZON_URL": settings.stellar_horizon_url or "",
        "STELLAR_CHANNELS": str(settings.stellar_channels),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class Processes:
    """Every process a test starts; `close()` stops them (SIGTERM, then SIGKILL)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[subprocess.Popen] = []

    def _start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("w")
        process = subprocess.Popen(
            argv, cwd=BACKEND_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        self.started.append(process)
        return process

    def api(self, name: str, env: dict[str, str], port: int) -> subprocess.Popen:
        argv = [sys.executable, "-m", "uvicorn", "app.api.app:create_app", "--factory"]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
        return self._start(name, argv, env | {"PORT": str(port)})

    def worker(self, name: str, env: dict[str, str]) -> subprocess.Popen:
        return self._start(name, [sys.executable, "-m", "app.worker"], env)

    def wait_healthy(self, url: str, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.started):
                raise RuntimeError(f"a process exited early; logs in {self.log_dir}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{url} not healthy within {timeout_s} s")

    def close(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
