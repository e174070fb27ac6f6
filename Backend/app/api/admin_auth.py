"""Who may use the admin API: the holder of ADMIN_TOKEN, sent as a bearer token.

The check runs twice on purpose. AdminRoute makes it before FastAPI reads the
body, so a caller without the token learns nothing (not even that its JSON was
malformed) and gets `WWW-Authenticate: Bearer`; the `AdminRuntime` dependency
makes it again, so an admin route can never be added without it (and OpenAPI
shows the bearer scheme).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Request, Response, Security
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import SecretStr

from app.api import admin_trail
from app.api.admin_models import ErrorOut
from app.api.admin_trail import AdminSession
from app.errors import Forbidden, Unauthorized
from app.http.error_body import error_body
from app.http.tokens import token_matches
from app.runtime import Runtime

log = logging.getLogger("paytrace.admin")


class AdminDisabled(Forbidden):
    """ADMIN_TOKEN is unset (production): the admin API refuses everything."""

    code = "admin_disabled"


class AdminUnauthorized(Unauthorized):
    """No bearer token, or not the admin token."""


def check_admin_token(expected: SecretStr | None, given: str | None) -> None:
    """Raises AdminDisabled when no token is configured, AdminUnauthorized unless it matches."""
    if expected is None:
        # token_matches lets everyone in when nothing is configured: not here.
        raise AdminDisabled("the admin API is disabled: ADMIN_TOKEN is not set")
    if not given or not token_matches(expected, given):
        raise AdminUnauthorized("a valid admin bearer token is required")


def _bearer_token(authorization: str | None) -> str | None:
    scheme, token = get_authorization_scheme_param(authorization)
    return token if scheme.lower() == "bearer" and token else None


def _unauthorized(exc: AdminUnauthorized) -> JSONResponse:
    return JSONResponse(
        error_body(exc.code, exc.detail),
        status_code=exc.status_code,
        headers={"WWW-Authenticate": "Bearer"},
    )


class AdminRoute(APIRoute):
    """An APIRoute that checks the admin token before the request body is read, and
    records every request in the admin audit trail (app/api/admin_trail.py): refused
    ones too, whatever refused them."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            runtime: Runtime = request.app.state.runtime
            entry = admin_trail.open_entry(request, action=self.name)
            request.state.admin_audit = entry
            try:
                given = _bearer_token(request.headers.get("authorization"))
                check_admin_token(runtime.settings.admin_token, given)
                assert given is not None  # check_admin_token refused it otherwise
                entry.actor = admin_trail.actor_of(given)
                admin_trail.read_reason(request, entry)
                response = await handler(request)
            except AdminUnauthorized as exc:
                log.warning(
                    "admin request refused: bad or missing token",
                    extra={"path": self.path, "request_id": entry.request_id},
                )
                await admin_trail.finish_refusal(runtime, entry, exc)
                return _unauthorized(exc)
            except Exception as exc:
                await admin_trail.finish_refusal(runtime, entry, exc)
                raise
            # A read is answered only once its row is written (ServiceUnavailable if not).
            await admin_trail.finish(runtime, entry, response.status_code)
            return response

        return checked


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AdminToken",
    description="ADMIN_TOKEN (development: `admin_token` in DATA_DIR/dev-secrets.json)",
)


async def admin_runtime(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> AdminSession:
    """The runtime, once the caller has shown the admin token, with units of work that
    write the request's audit row; raises like check_admin_token.

    async: a plain def would cost a thread-pool hop for a string comparison.
    """
    runtime: Runtime = request.app.state.runtime
    check_admin_token(
        runtime.settings.admin_token, credentials.credentials if credentials else None
    )
    entry = getattr(request.state, "admin_audit", None)
    if entry is None:
        # Only AdminRoute opens an entry: an admin route without it would go unaudited.
        raise RuntimeError(f"{request.url.path}: admin routes need route_class=AdminRoute")
    return AdminSession(runtime, entry)


AdminRuntime = Annotated[AdminSession, Security(admin_runtime)]


COMMON_ANSWERS = {
    401: "missing or wrong bearer token",
    403: "`admin_disabled`: ADMIN_TOKEN is not set",
    422: "the request is malformed",
    503: "the database is unavailable; retry",
}


def admin_router(**extra: str) -> APIRouter:
    """A router for admin routes: under /api/v1/admin, every route an AdminRoute (so it
    is authenticated and audited: AdminRuntime refuses any other), with the answers every
    admin route can give documented once. `extra` documents more, e.g. `r404="..."`."""
    described = {**COMMON_ANSWERS, **{int(code[1:]): text for code, text in extra.items()}}
    return APIRouter(
        prefix="/api/v1/admin",
        tags=["admin"],
        route_class=AdminRoute,
        responses={
            code: {"model": ErrorOut, "description": text}
            for code, text in sorted(described.items())
        },
    )
