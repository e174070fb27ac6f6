"""`make run`: the whole PayTrace on a laptop, with nothing but Python installed.

Starts embedded PostgreSQL and Redis under the data directory when DATABASE_URL /
REDIS_URL are unset (their data survives restarts), applies migrations, then runs
the API and the outbox worker as child processes and supervises them
(app/infra/supervisor.py): Ctrl-C or SIGTERM, at any moment from the first line of
main() on, stops everything, children with their process groups and the embedded
servers, each within a bounded time; a second one skips the grace periods (the
handler only sets a flag: app/infra/stop_flag.py). A child that dies on its own stops
everything with a non-zero exit, so a broken process is never mistaken for a running system.
When STELLAR_HORIZON_URL is unset, PayTrace's local Stellar development network is
the first child: the runner waits for it, creates PayTrace's own accounts on it,
and only then starts the API and the worker, pointed at it. When no Daraja consumer
key is set, PayTrace's local Daraja (M-Pesa) sandbox is started the same way, before
the API and the worker, with the credentials PayTrace's settings carry.

Long (over 300 lines) because it starts the embedded servers, the sandboxes, the API
and the worker in order, each with its readiness check and bounded shutdown, from
one entry point.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import sys

import httpx
from stellar_sdk.exceptions import SdkError

from app.cli import register_c2b
from app.config import Settings
from app.db.migrate import apply_migrations
from app.infra.embedded import STOP_TIMEOUT_S, EmbeddedServers, ensure_servers
from app.infra.stop_flag import StopFlag
from app.infra.supervisor import Child, StartFailed, Supervisor, probe_ready
from app.services.custody import SecretBox, SystemAccounts, UndecryptableSecret
from app.services.custody_bootstrap import RefusedNetwork, prepare_development_network

LOCAL_STELLAR_HOST = "127.0.0.1"


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
        # PayTrace reads X-Forwarded-For itself, and only from TRUSTED_PROXIES.
        "--no-proxy-headers",
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


def child_env(
    database_url: str, redis_url: str, stellar_horizon_url: str | None = None
) -> dict[str, str]:
    """The children's environment; `stellar_horizon_url` is given when the runner
    started the local Stellar network (otherwise the configured one is inherited)."""
    env = dict(os.environ)
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, PYTHONUNBUFFERED="1")
    if stellar_horizon_url is not None:
        env["STELLAR_HORIZON_URL"] = stellar_horizon_url
    return env


def local_stellar_url(settings: Settings) -> str:
    return f"http://{LOCAL_STELLAR_HOST}:{settings.stellar_local_network_port}"


def stellar_network_argv(settings: Settings) -> list[str]:
    """PayTrace's local Stellar development network, its ledger under the data directory."""
    return [
        sys.executable,
        "-m",
        "app.sandboxes.stellar",
        "--host",
        LOCAL_STELLAR_HOST,
        "--port",
        str(settings.stellar_local_network_port),
        "--data-dir",
        str(settings.data_dir / "stellar-network"),
        "--passphrase",
        settings.stellar_network_passphrase,
        "--close-interval",
        str(settings.stellar_local_network_close_interval_s),
        "--log-level",
        "warning",
    ]


def port_in_use(host: str, port: int) -> bool:
    """Something already accepts connections there (another PayTrace, say)."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def prepare_local_network(settings: Settings, horizon_url: str) -> None:
    """Create PayTrace's issuer, treasury, fee and channel accounts (idempotent)."""
    try:
        system = SystemAccounts.from_settings(settings, SecretBox.from_settings(settings))
        created = prepare_development_network(
            horizon_url,
            system,
            settings.stellar_network_passphrase,
            timeout_s=settings.stellar_timeout_s,
        )
    except (
        RefusedNetwork,
        UndecryptableSecret,
        ValueError,
        httpx.HTTPError,
        SdkError,
    ) as exc:
        raise StartFailed(f"could not prepare the local Stellar network: {exc!r}") from exc
    print(
        "devserver: local Stellar network ready"
        + (f"; created {', '.join(created)}" if created else "; PayTrace's accounts exist")
    )


def stellar_network_child(settings: Settings) -> Child | None:
    """The local Stellar network, only when no Horizon is configured."""
    if settings.stellar_horizon_url:
        return None
    url = local_stellar_url(settings)
    return Child(
        "stellar-network",
        stellar_network_argv(settings),
        ready_url=f"{url}/",
        on_ready=lambda: prepare_local_network(settings, url),
    )


def local_daraja_url(settings: Settings) -> str:
    return f"http://{LOCAL_STELLAR_HOST}:{settings.daraja_local_sandbox_port}"


def daraja_sandbox_argv(settings: Settings) -> list[str]:
    """PayTrace's local Daraja sandbox, answering to the credentials PayTrace will send
    (the development values settings filled in), its state under the data directory."""

    def secret(value) -> str:
        return value.get_secret_value() if value is not None else ""

    return [
        sys.executable,
        "-m",
        "app.sandboxes.daraja",
        "--host",
        LOCAL_STELLAR_HOST,
        "--port",
        str(settings.daraja_local_sandbox_port),
        "--data-dir",
        str(settings.data_dir / "daraja-sandbox"),
        "--consumer-key",
        secret(settings.daraja_consumer_key),
        "--consumer-secret",
        secret(settings.daraja_consumer_secret),
        "--shortcode",
        settings.daraja_shortcode,
        "--passkey",
        secret(settings.daraja_passkey),
        "--b2c-shortcode",
        settings.daraja_b2c_shortcode,
        "--initiator-name",
        settings.daraja_initiator_name,
        "--security-credential",
        secret(settings.daraja_security_credential),
        "--log-level",
        "warning",
    ]


def daraja_sandbox_child(settings: Settings) -> Child | None:
    """The local Daraja sandbox, only when no Daraja credentials are configured."""
    if not settings.daraja_sandbox_enabled:
        return None
    return Child(
        "daraja-sandbox",
        daraja_sandbox_argv(settings),
        ready_url=f"{local_daraja_url(settings)}/sandbox/scenarios",
    )


def build_children(settings: Settings, *, worker: bool) -> list[Child]:
    """In start order: the local Stellar network and Daraja sandbox (when needed), the
    API, the worker."""
    children: list[Child] = []
    for service in (stellar_network_child(settings), daraja_sandbox_child(settings)):
        if service is not None:
            children.append(service)
    children.append(Child("api", api_argv(settings.host, settings.port)))
    if worker:
        children.append(Child("worker", [sys.executable, "-m", "app.worker"]))
    return children


def banner(
    base_url: str, settings: Settings, worker: bool, embedded: bool, local_stellar: bool = False
) -> str:
    phone_cmd = "make -C Backend phone PHONE=+254712345678"
    if base_url != "http://127.0.0.1:8000":  # the make target dials the default address
        phone_cmd = (
            f".venv/bin/python -m app.cli.terminal_phone --phone +254712345678 --url {base_url}"
        )
    lines = [
        "",
        "PayTrace is running" + (" on embedded PostgreSQL and Redis" if embedded else ""),
        f"  API docs       {base_url}/docs",
        f"  Health         {base_url}/health/ready",
        f"  Phone          {phone_cmd}",
        f"  Web phone      {base_url}/sandbox/phone   (dial from a browser; development only)",
    ]
    if settings.sms_sandbox_enabled:
        lines.append(f"  SMS sandbox    {base_url}/sandbox/sms   (local AT sandbox, no real SMS)")
    if local_stellar:
        lines.append(
            f"  Stellar        {local_stellar_url(settings)}   (local development network,"
            f" ledger in {settings.data_dir / 'stellar-network'})"
        )
    elif settings.stellar_horizon_url:
        lines.append(f"  Stellar        {settings.stellar_horizon_url}")
    if settings.daraja_sandbox_enabled:
        lines.append(
            f"  M-Pesa         {local_daraja_url(settings)}   (local Daraja sandbox, nothing real"
            " moves; scenarios in docs/mpesa.md)"
        )
    elif settings.mpesa_enabled:
        lines.append(f"  M-Pesa         {settings.daraja_base_url}")
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
    # First of all, so that no signal finds the default handler while servers start:
    # Ctrl-C or SIGTERM from here on only sets the flag, and the finally below stops
    # whatever was started. A second one while stopping skips the grace periods.
    stop = StopFlag()
    stop.install()
    # The devserver is development's own entry point (PayTrace defaults to production):
    # `python -m app.cli.devserver` without make runs as make run does. Children inherit it.
    os.environ.setdefault("ENVIRONMENT", "development")
    servers = EmbeddedServers()
    try:
        settings = Settings()  # also creates the dev secrets once, before children race
        embedded = not settings.database_url or not settings.redis_url
        if embedded:
            print(f"devserver: starting embedded PostgreSQL/Redis under {settings.data_dir}")
        database_url, redis_url, _ = ensure_servers(
            settings.data_dir, settings.database_url, settings.redis_url, servers
        )
        if stop.is_set():
            return 0
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
        worker = worker_available()
        children = build_children(settings, worker=worker)
        local_stellar = not settings.stellar_horizon_url
        if local_stellar:
            if port_in_use(LOCAL_STELLAR_HOST, settings.stellar_local_network_port):
                print(
                    f"devserver: {local_stellar_url(settings)} is already in use; stop what"
                    " listens there, or set STELLAR_LOCAL_NETWORK_PORT (or STELLAR_HORIZON_URL)",
                    file=sys.stderr,
                )
                return 1
            print(f"devserver: starting the local Stellar network on {local_stellar_url(settings)}")
        if settings.daraja_sandbox_enabled:
            if port_in_use(LOCAL_STELLAR_HOST, settings.daraja_local_sandbox_port):
                print(
                    f"devserver: {local_daraja_url(settings)} is already in use; stop what"
                    " listens there, or set DARAJA_LOCAL_SANDBOX_PORT",
                    file=sys.stderr,
                )
                return 1
            print(f"devserver: starting the local Daraja sandbox on {local_daraja_url(settings)}")
        env = child_env(
            database_url, redis_url, local_stellar_url(settings) if local_stellar else None
        )
        supervisor = Supervisor(children, env, hurry=lambda: stop.urgent)
        base_url = f"http://{settings.host}:{settings.port}"
        announced = False

        def announce() -> None:
            nonlocal announced
            if not announced and probe_ready(f"{base_url}/health/ready"):
                announced = True
                if settings.daraja_sandbox_enabled:
                    # The local sandbox's paybill calls this PayTrace (pay orders by C2B).
                    register_c2b.register(settings)
                print(banner(base_url, settings, worker, embedded, local_stellar), flush=True)

        return supervisor.run(stop, on_tick=announce)
    finally:
        servers.stop(timeout_s=1.0 if stop.urgent else STOP_TIMEOUT_S)
        print("devserver: stopped", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
