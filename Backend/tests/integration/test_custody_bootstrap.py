"""The development bootstrap against PayTrace's local network: accounts, trustline,
channels; a second run changes nothing; a real network's passphrase is refused."""

from __future__ import annotations

import httpx
import pytest
from stellar_sdk import Network

from app.cli.stellar_setup import set_up
from app.integrations.stellar import Horizon
from app.services.custody import SecretBox, SystemAccounts
from app.services.custody_bootstrap import RefusedNetwork, prepare_development_network
from tests.support.stellar import custody_settings, kes_cents, local_network, prepared_system


def test_bootstrap_creates_everything_once(settings, tmp_path):
    with local_network(tmp_path / "net") as net:
        custody = custody_settings(settings, net.url, stellar_channels=3)
        system = prepared_system(custody)
        horizon = Horizon(net.url)
        for keypair in (system.issuer, system.treasury, system.fee, *system.channels):
            account = horizon.account(keypair.public_key)
            assert account is not None and account.balances["native"] > 0
        assert kes_cents(horizon, system, system.treasury.public_key) == 0
        assert len({c.public_key for c in system.channels}) == 3
        again = prepare_development_network(net.url, system, custody.stellar_network_passphrase)
        assert again == []


def test_bootstrap_refuses_a_real_network(settings):
    custody = custody_settings(
        settings,
        "http://127.0.0.1:9",
        stellar_network_passphrase=Network.PUBLIC_NETWORK_PASSPHRASE,
    )
    with pytest.raises(RefusedNetwork):
        prepared_system(custody)


def test_setup_on_a_network_asks_for_funding_then_adds_trustline_and_channels(settings, tmp_path):
    """An operator's network: nothing is created from thin air; once the operator funded
    issuer, treasury and fee, the command adds the trustline and the channels, once."""
    with local_network(tmp_path / "net") as net:
        custody = custody_settings(settings, net.url, stellar_channels=2)
        system = SystemAccounts.from_settings(custody, SecretBox.from_settings(custody))
        missing, done = set_up(custody)
        assert [name for name, _ in missing] == ["issuer", "treasury", "fee"] and done == []
        for keypair in (system.issuer, system.treasury, system.fee):  # the operator funds
            funded_by_operator = httpx.get(
                f"{net.url}/friendbot", params={"addr": keypair.public_key}, timeout=10
            )
            assert funded_by_operator.status_code == 200
        assert set_up(custody) == ([], ["treasury trustline", "2 channel account(s)"])
        assert set_up(custody) == ([], [])
        horizon = Horizon(net.url)
        assert kes_cents(horizon, system, system.treasury.public_key) == 0
        assert all(horizon.account(c.public_key) for c in system.channels)
