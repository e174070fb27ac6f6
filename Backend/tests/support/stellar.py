"""PayTrace's local Stellar network for tests: served over real HTTP, with PayTrace's
own accounts created and funded as `make run` does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.config import Settings
from app.integrations.stellar import Horizon, cents_to_amount, to_stroops
from app.sandboxes.stellar import create_app
from app.services.custody import SecretBox, SystemAccounts
from app.services.custody_bootstrap import prepare_development_network
from tests.conftest import LiveServer, free_port


@contextmanager
def local_network(data_dir: Path, *, close_interval_s: float = 0.1) -> Iterator[LiveServer]:
    """The local network on a free port; its ledgers close every close_interval_s."""
    with LiveServer(create_app(data_dir, close_interval_s=close_interval_s), free_port()) as srv:
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
