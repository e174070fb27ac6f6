"""The API's lifespan freezes what start-up built and undoes it at shutdown."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from app.api.app import create_app
from app.infra.heap import SERVING_THRESHOLDS


def test_the_api_serves_with_its_start_up_heap_frozen_and_restores_it_at_shutdown(settings):
    before = gc.get_threshold()
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        assert gc.get_threshold() == SERVING_THRESHOLDS
        # The app, its routes and the SDKs' classes: far more than a bare interpreter.
        assert gc.get_freeze_count() > 50_000
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
