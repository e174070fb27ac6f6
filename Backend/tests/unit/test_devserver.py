"""`make run`'s supervisor, with real child processes (no PostgreSQL needed)."""

import sys
import threading
import time

from app.devserver import Child, Supervisor, api_argv, child_env

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _child(name: str, code: str) -> Child:
    return Child(name, [sys.executable, "-c", code])


def test_a_child_that_dies_stops_the_others_and_fails():
    sleeper = Child("api", SLEEPER)
    crasher = _child("worker", "raise SystemExit(3)")
    supervisor = Supervisor([sleeper, crasher], env={})
    started = time.monotonic()
    assert supervisor.run(threading.Event()) == 1
    assert time.monotonic() - started < 10
    assert crasher.proc.returncode == 3
    assert sleeper.proc.returncode is not None  # stopped, not left running


def test_a_stop_request_stops_every_child_and_succeeds():
    children = [Child("api", SLEEPER), Child("worker", SLEEPER)]
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    assert Supervisor(children, env={}).run(stop) == 0
    assert all(child.proc.returncode is not None for child in children)


def test_a_child_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path):
    flag = tmp_path / "ready"
    stubborn = _child(
        "api",
        "import pathlib, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"pathlib.Path({str(flag)!r}).touch()\n"
        "time.sleep(60)\n",
    )
    stop = threading.Event()

    def stop_once_ready() -> None:
        deadline = time.monotonic() + 10
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()

    threading.Thread(target=stop_once_ready, daemon=True).start()
    assert Supervisor([stubborn], env={}, grace_s=0.5).run(stop) == 0
    assert stubborn.proc.returncode == -9


def test_children_get_the_database_and_redis_urls():
    env = child_env("postgresql://db/x", "redis://r/0")
    assert env["DATABASE_URL"] == "postgresql://db/x"
    assert env["REDIS_URL"] == "redis://r/0"


def test_the_api_runs_uvicorn_factory_with_uvloop_httptools_and_no_access_log():
    argv = api_argv("127.0.0.1", 8123)
    assert argv[1:5] == ["-m", "uvicorn", "app.api.app:create_app", "--factory"]
    joined = " ".join(argv)
    for part in ("--port 8123", "--host 127.0.0.1", "--loop uvloop", "--http httptools"):
        assert part in joined
    assert "--no-access-log" in argv
