"""Fixtures for the local Daraja sandbox's own tests (a pytest plugin: see
tests/conftest.py): one sandbox and one callback receiver per test module, a client
with the scenario rules cleared, and a fresh phone number."""

from __future__ import annotations

import secrets

import pytest

from tests.support.daraja import CallbackReceiver, DarajaClient, daraja_sandbox


@pytest.fixture(scope="module")
def receiver():
    with CallbackReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def sandbox_url(tmp_path_factory):
    with daraja_sandbox(tmp_path_factory.mktemp("daraja")) as server:
        yield server.url


@pytest.fixture
def daraja(sandbox_url) -> DarajaClient:
    client = DarajaClient(sandbox_url)
    assert client.http.delete("/sandbox/scenarios").status_code == 204
    return client


@pytest.fixture
def phone() -> str:
    return "2547" + "".join(secrets.choice("0123456789") for _ in range(8))
