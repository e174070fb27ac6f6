"""Fixtures for the local Stellar network's own tests (a pytest plugin: see
tests/conftest.py): one network per test module, the SDK's Server on it, and
friendbot-funded accounts."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from stellar_sdk import Keypair, Server
from stellar_sdk.client.requests_client import RequestsClient

from app.sandboxes.stellar import create_app


@pytest.fixture(scope="module")
def horizon_url(tmp_path_factory) -> Iterator[str]:
    """A local network for the module, ledgers closing every 0.1 s; a quiet event stream
    says hello every 0.3 s."""
    from tests.conftest import LiveServer, free_port

    app = create_app(tmp_path_factory.mktemp("stellar"), close_interval_s=0.1, keepalive_s=0.3)
    with LiveServer(app, free_port(), graceful_s=1.0) as server:
        yield server.url


@pytest.fixture
def server(horizon_url: str) -> Server:
    return Server(horizon_url, client=RequestsClient(num_retries=0))


def funded(horizon_url: str) -> Keypair:
    """A new account with 10,000 XLM from the network's friendbot."""
    keypair = Keypair.random()
    answer = httpx.get(f"{horizon_url}/friendbot", params={"addr": keypair.public_key}, timeout=10)
    assert answer.status_code == 200, answer.text
    return keypair
