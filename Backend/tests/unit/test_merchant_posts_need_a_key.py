"""Every POST under /api/v1/merchant/ takes the Idempotency-Key dependency: a write route
added to the merchant API without it fails here (read from the app itself)."""

from __future__ import annotations

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.api.app import create_app
from app.api.merchant import idempotency
from app.config import Settings


def _calls(dependant: Dependant) -> set[object]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def test_every_merchant_post_requires_an_idempotency_key():
    app = create_app(Settings(_env_file=None, environment="test"))
    posts = [
        context
        for context in iter_route_contexts(app.routes)
        if isinstance(context.route, APIRoute)
        and context.path.startswith("/api/v1/merchant/")
        and "POST" in (context.methods or ())
    ]
    assert {route.path for route in posts} >= {
        "/api/v1/merchant/orders",
        "/api/v1/merchant/orders/{order_id}/cancel",
    }
    for route in posts:
        assert idempotency._idempotency_key in _calls(route.route.dependant), route.path
