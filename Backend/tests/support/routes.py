"""Every HTTP route the app serves, as the app itself lists them, for tests that must
cover each route (a route added later fails them until it is covered)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from app.api.app import create_app
from app.config import Settings


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str  # as declared, e.g. /api/v1/transfers/{transaction_id}
    name: str  # the endpoint's name


def http_routes(app: FastAPI | None = None) -> list[RouteInfo]:
    """(method, path, name) of every route, HEAD left out (Starlette adds it to GETs).

    FastAPI includes routers lazily (`_IncludedRouter`): `iter_route_contexts` walks
    them as the app resolves them."""
    app = app or create_app(Settings(_env_file=None, environment="test"))
    found = []
    for context in iter_route_contexts(app.routes):
        methods = context.methods
        if not methods or context.path is None:
            continue
        for method in sorted(methods - {"HEAD"}):
            found.append(RouteInfo(method, context.path, context.name or ""))
    return found
