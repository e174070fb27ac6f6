"""The development bootstrap against PayTrace's local network: accounts, trustline,
channels; a second run changes nothing; a real network's passphrase is refused."""

from __future__ import annotations

import pytest
from stellar_sdk import Network

from app.integrations.stellar import Horizon
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
