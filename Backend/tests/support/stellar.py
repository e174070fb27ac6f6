"""PayTrace's local Stellar network for tests: served over real HTTP, with PayTrace's
own accounts created and funded as `make run` does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.config import Settings
from app.db.pool import Database
from app.integrations.stellar import Horizon, cents_to_amount, to_stroops
from app.sandboxes.stellar import create_app
from app.services.custody import SecretBox, SystemAccounts
from app.services.custody_bootstrap import prepare_development_network
from app.worker.settlement import Settler
from tests.conftest import LiveServer, free_port


@contextmanager
def local_network(data_dir: Path, *, close_interval_s: float = 0.1) -> Iterator[LiveServer]:
    """The local network on a free port; its ledgers close every close_interval_s."""
    app = create_app(data_dir, close_interval_s=close_interval_s)
    with LiveServer(app, free_port(), graceful_s=1.0) as srv:
        yield srv


def custody_settings(settings: Settings, horizon_url: str, **overrides) -> Settings:
    """`settings` pointed at a local network (custody on)."""
    return settings.model_copy(update={"stellar_horizon_url": horizon_url, **overrides})


def prepared_system(settings: Settings) -> SystemAccounts:
    """PayTrace's own accounts, created and funded on settings' network."""
    system = SystemAccounts.from_settings(settings, SecretBox.from_settings(settings))
    prepare_development_network(
        settings.stellar_horizon_url, system, settings.stellar_network_passphrase
    )
    return system


def kes_cents(horizon: Horizon, system: SystemAccounts, address: str) -> int | None:
    """The account's KES balance in cents (None: no account or no trustline)."""
    account = horizon.account(address)
    if account is None:
        return None
    stroops = account.balances.get(f"{system.asset.code}:{system.asset.issuer}")
    if stroops is None:
        return None
    cents, rest = divmod(stroops, to_stroops(cents_to_amount(1)))
    assert rest == 0, f"{address} holds a fraction of a cent"
    return cents


def activate_pending(settings: Settings, database: Database, *, timeout_s: float = 30.0) -> int:
    """Run the worker's settler until no wallet waits for its account; returns how many
    wallets it activated (movements already posted may settle along the way)."""
    engine = settler(
        settings,
        database,
        SystemAccounts.from_settings(settings, SecretBox.from_settings(settings)),
    )
    deadline = time.monotonic() + timeout_s
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM wallets WHERE activation_status = 'pending'")
        waiting = cur.fetchone()[0]
        conn.rollback()
    while time.monotonic() < deadline:
        engine.step()
        with database.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM wallets WHERE activation_status = 'pending'")
            left = cur.fetchone()[0]
            conn.rollback()
        if left == 0:
            engine.drain()
            return waiting
        time.sleep(0.02)
    raise TimeoutError("wallets were not activated in time")


def settler(settings: Settings, database: Database, system: SystemAccounts) -> Settler:
    """The worker's settler, wired as the worker wires it."""
    return Settler(
        database,
        Horizon.from_settings(settings),
        system,
        SecretBox.from_settings(settings),
        passphrase=settings.stellar_network_passphrase,
        envelope_ttl_s=settings.stellar_envelope_ttl_s,
        poll_interval_s=0.01,
    )


def books(
    database: Database, horizon: Horizon, system: SystemAccounts
) -> tuple[dict[str, int], dict[str, int | None]]:
    """Ledger and on-chain KES (cents) for every wallet and the treasury, by address."""
    with database.connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT w.stellar_address, a.balance FROM wallets w"
            " JOIN ledger_accounts a ON a.user_id = w.user_id"
        )
        ledger = dict(cur.fetchall())
        # The treasury holds what every account that is neither a wallet nor the
        # issuer's side holds: the fee shards, campaigns' escrows.
        cur.execute(
            "SELECT coalesce(sum(balance), 0) FROM ledger_accounts WHERE kind NOT IN"
            " ('wallet', 'mpesa_float', 'suspense', 'stellar_clearing')"
        )
        ledger[system.treasury.public_key] = int(cur.fetchone()[0])
    on_chain = {address: kes_cents(horizon, system, address) for address in ledger}
    return ledger, on_chain
