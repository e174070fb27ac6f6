"""`make run`'s supervisor, with real child processes (no PostgreSQL needed)."""

import os
import signal
import sys
import threading
import time

import pytest

from app.cli.devserver import (
    Child,
    Supervisor,
    api_argv,
    banner,
    build_children,
    child_env,
    daraja_sandbox_child,
    stellar_network_child,
)
from app.config import Settings
from app.infra.embedded import alive
from app.infra.stop_flag import StopFlag
from tests.conftest import free_port

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


# ---- the local Stellar network -----------------------------------------------------------


def _settings(tmp_path, monkeypatch, **overrides) -> Settings:
    monkeypatch.delenv("STELLAR_HORIZON_URL", raising=False)
    monkeypatch.delenv("DARAJA_CONSUMER_KEY", raising=False)
    return Settings(_env_file=None, environment="development", data_dir=tmp_path, **overrides)


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_the_local_stellar_network_starts_first_when_no_horizon_is_configured(
    tmp_path, monkeypatch
):
    settings = _settings(
        tmp_path,
        monkeypatch,
        stellar_local_network_port=8123,
        stellar_local_network_close_interval_s=0.5,
    )
    children = build_children(settings, worker=True)
    names = [child.name for child in children]
    assert names == ["stellar-network", "daraja-sandbox", "api", "worker"]
    network = children[0]
    assert network.argv[1:3] == ["-m", "app.sandboxes.stellar"]
    assert _option(network.argv, "--host") == "127.0.0.1"
    assert _option(network.argv, "--port") == "8123"
    assert _option(network.argv, "--data-dir") == str(tmp_path / "stellar-network")
    assert _option(network.argv, "--passphrase") == settings.stellar_network_passphrase
    assert _option(network.argv, "--close-interval") == "0.5"
    # The API and the worker wait for it, and for PayTrace's accounts on it.
    assert network.ready_url == "http://127.0.0.1:8123/"
    assert network.on_ready is not None
    assert "http://127.0.0.1:8123" in banner("http://127.0.0.1:8000", settings, True, False, True)


def test_no_local_stellar_network_when_a_horizon_is_configured(tmp_path, monkeypatch):
    settings = _settings(tmp_path, monkeypatch, stellar_horizon_url="https://horizon.example")
    assert stellar_network_child(settings) is None
    names = [child.name for child in build_children(settings, worker=True)]
    assert names == ["daraja-sandbox", "api", "worker"]
    text = banner("http://127.0.0.1:8000", settings, True, False)
    assert "https://horizon.example" in text and "local development network" not in text


def test_children_are_pointed_at_the_local_stellar_network(monkeypatch):
    monkeypatch.delenv("STELLAR_HORIZON_URL", raising=False)
    env = child_env("postgresql://db/x", "redis://r/0", "http://127.0.0.1:8010")
    assert env["STELLAR_HORIZON_URL"] == "http://127.0.0.1:8010"
    assert "STELLAR_HORIZON_URL" not in child_env("postgresql://db/x", "redis://r/0")


def test_a_configured_horizon_is_passed_on_unchanged(monkeypatch):
    monkeypatch.setenv("STELLAR_HORIZON_URL", "https://horizon.example")
    env = child_env("postgresql://db/x", "redis://r/0")
    assert env["STELLAR_HORIZON_URL"] == "https://horizon.example"


def _http_service(tmp_path) -> Child:
    port = free_port()
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    argv += ["--directory", str(tmp_path)]
    return Child("network", argv, ready_url=f"http://127.0.0.1:{port}/")


def test_a_service_is_ready_and_prepared_before_the_next_child_starts(tmp_path):
    service = _http_service(tmp_path)
    dependent = Child("worker", SLEEPER)
    seen: list[object] = []
    service.on_ready = lambda: seen.append(dependent.proc)
    stop = threading.Event()

    def stop_once_the_worker_runs() -> None:
        # Not a fixed delay: on a busy machine the service takes longer to be ready.
        deadline = time.monotonic() + 20
        while dependent.proc is None and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()

    threading.Thread(target=stop_once_the_worker_runs, daemon=True).start()
    assert Supervisor([service, dependent], env={}).run(stop) == 0
    assert seen == [None]  # prepared once, while the worker was not yet started
    assert dependent.proc is not None


def test_a_service_outlives_the_children_that_depend_on_it(tmp_path):
    service = _http_service(tmp_path)
    started, seen = tmp_path / "started", tmp_path / "seen"
    dependent = _child(
        "worker",
        "import pathlib, signal, sys, time, urllib.request\n"
        "def bye(*_):\n"
        "    try:\n"
        f"        urllib.request.urlopen({service.ready_url!r}, timeout=2)\n"
        "        state = 'up'\n"
        "    except OSError:\n"
        "        state = 'down'\n"
        f"    pathlib.Path({str(seen)!r}).write_text(state)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        f"pathlib.Path({str(started)!r}).touch()\n"
        "time.sleep(60)\n",
    )
    stop = threading.Event()

    def stop_once_started() -> None:
        deadline = time.monotonic() + 10
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()

    threading.Thread(target=stop_once_started, daemon=True).start()
    assert Supervisor([service, dependent], env={}).run(stop) == 0
    assert seen.read_text() == "up"  # the worker stopped while the network still answered
    assert service.proc.returncode is not None


@pytest.mark.parametrize("code", ["raise SystemExit(4)", "import time; time.sleep(60)"])
def test_a_service_that_dies_or_never_answers_stops_the_start(code):
    service = Child(
        "network",
        [sys.executable, "-c", code],
        ready_url=f"http://127.0.0.1:{free_port()}/",
        ready_timeout_s=1.0,
    )
    dependent = Child("worker", SLEEPER)
    started = time.monotonic()
    assert Supervisor([service, dependent], env={}).run(threading.Event()) == 1
    assert time.monotonic() - started < 10
    assert dependent.proc is None  # never started
    assert service.proc.returncode is not None  # not left running


# ---- the local Daraja sandbox --------------------------------------------------------------


def test_the_local_daraja_sandbox_starts_before_the_api_with_paytraces_credentials(
    tmp_path, monkeypatch
):
    settings = _settings(tmp_path, monkeypatch, daraja_local_sandbox_port=8124)
    sandbox = daraja_sandbox_child(settings)
    assert sandbox is not None and sandbox.argv[1:3] == ["-m", "app.sandboxes.daraja"]
    assert _option(sandbox.argv, "--port") == "8124"
    assert _option(sandbox.argv, "--data-dir") == str(tmp_path / "daraja-sandbox")
    assert sandbox.ready_url == "http://127.0.0.1:8124/sandbox/scenarios"
    # It answers to exactly what PayTrace will send (the same development values).
    assert settings.daraja_base_url == "http://127.0.0.1:8124"
    assert _option(sandbox.argv, "--consumer-key") == "paytrace-sandbox-consumer-key"
    passkey = settings.daraja_passkey.get_secret_value()
    assert _option(sandbox.argv, "--passkey") == passkey
    assert _option(sandbox.argv, "--shortcode") == settings.daraja_shortcode == "174379"
    assert "local Daraja sandbox" in banner("http://127.0.0.1:8000", settings, True, False)


def test_no_local_daraja_sandbox_when_daraja_credentials_are_configured(tmp_path, monkeypatch):
    settings = _settings(
        tmp_path,
        monkeypatch,
        daraja_consumer_key="real-key",
        daraja_base_url="https://sandbox.safaricom.co.ke",
    )
    assert daraja_sandbox_child(settings) is None
    assert "daraja-sandbox" not in [c.name for c in build_children(settings, worker=True)]
    text = banner("http://127.0.0.1:8000", settings, True, False)
    assert "https://sandbox.safaricom.co.ke" in text and "local Daraja sandbox" not in text


def test_a_grandchild_is_stopped_with_its_parent(tmp_path):
    """A child's own children (its process group) never outlive a stop."""
    pid_file = tmp_path / "grandchild"
    parent = _child(
        "worker",
        "import os, pathlib, subprocess, sys, time\n"
        "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        # Written aside and renamed: the file is never seen empty (a stop can come
        # between a write_text's create and its write on a loaded machine).
        f"pathlib.Path({str(pid_file)!r} + '.tmp').write_text(str(g.pid))\n"
        f"os.replace({str(pid_file)!r} + '.tmp', {str(pid_file)!r})\n"
        "time.sleep(60)\n",
    )
    stop = threading.Event()

    def stop_once_started() -> None:
        deadline = time.monotonic() + 10
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()

    threading.Thread(target=stop_once_started, daemon=True).start()
    assert Supervisor([parent], env={}, grace_s=5).run(stop) == 0
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 3
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild)


def test_a_second_stop_request_kills_at_once_without_waiting_for_the_grace(tmp_path):
    flag = tmp_path / "ready"
    stubborn = _child(
        "api",
        "import pathlib, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"pathlib.Path({str(flag)!r}).touch()\n"
        "time.sleep(60)\n",
    )
    stop = StopFlag()

    def stop_twice_once_ready() -> None:
        deadline = time.monotonic() + 10
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        time.sleep(0.3)
        stop.set()  # Ctrl-C again: no more patience

    threading.Thread(target=stop_twice_once_ready, daemon=True).start()
    started = time.monotonic()
    supervisor = Supervisor([stubborn], env={}, grace_s=30, hurry=lambda: stop.urgent)
    assert supervisor.run(stop) == 0
    assert time.monotonic() - started < 10
    assert stubborn.proc.returncode == -9


def test_a_signal_sets_the_stop_flag_even_while_its_waiter_sleeps():
    """The handler takes no lock: it cannot deadlock with the main thread's wait."""
    stop = StopFlag()
    previous = signal.signal(signal.SIGUSR1, stop.handle)
    try:
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1)).start()
        started = time.monotonic()
        assert stop.wait(10) is True
        assert time.monotonic() - started < 5
        assert stop.count == 1 and not stop.urgent
    finally:
        signal.signal(signal.SIGUSR1, previous)
