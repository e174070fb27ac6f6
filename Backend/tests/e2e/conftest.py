"""Fixtures for driving the REST API as the PWA does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.db.pool import Database
from tests.support.pwa import Pwa


@pytest.fixture
def pwa(live_server, live_settings, database: Database) -> Iterator[Pwa]:
    client = Pwa(live_server.url, live_settings, database)
    yield client
    client.close()
