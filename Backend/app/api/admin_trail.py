"""The admin API's side of the audit trail: an entry per request, and its outcome.

`AdminRoute` (app/api/admin_auth.py) opens an entry before anything else happens,
so a request refused for its token or its body is recorded as well as one that acted.
Routes reach the entry through their `AdminRuntime` (`runtime.audit`) to name their
target or add detail; their units of work (`runtime.uow()`) write it with their commit.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.request_id import request_id_of
from app.api.v1.context import client_address
from app.db.unit_of_work import UnitOfWork
from app.domain.phone import InvalidPhone, normalise
from app.errors import PayTraceError, refused
from app.runtime import Runtime
from app.services import admin_audit
from app.services.admin_audit import REASON_MAX, AuditedUnitOfWork, AuditEntry

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("paytrace.admin")

ANONYMOUS = "anonymous"
REASON_HEADER = "x-audit-reason"
# A path parameter names the route's target: {phone} a user, {transaction_id} a
# journal transaction; any other {thing_id} is a 'thing'.
_PATH_TARGETS = {"phone": "user", "transaction_id": "transaction"}
_QUERY_MAX = 20  # query parameters kept in detail (admin queries are filters, no secrets)


def actor_of(token: str) -> str:
    """The admin credential's id: a fingerprint of the token (the token itself never is
    stored). Tokens are long and random, so 12 hex digits of SHA-256 reveal nothing."""
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def open_entry(request: Request, action: str) -> AuditEntry:
    """An entry for this request: anonymous until its token is checked."""
    entry = AuditEntry(
        actor=ANONYMOUS,
        action=action,
        client_address=client_address(request),
        request_id=request_id_of(request),
        detail={"method": request.method},
    )
    for name, value in request.path_params.items():
        if name in _PATH_TARGETS:
            entry.target(_PATH_TARGETS[name], storable(_normalised(name, str(value))))
        elif name.endswith("_id"):
            entry.target(name.removesuffix("_id"), storable(str(value)))
    query = list(request.query_params.multi_items())[:_QUERY_MAX]
    if query:
        entry.detail["query"] = {storable(key[:40]): storable(value[:200]) for key, value in query}
    return entry


def storable(text: str) -> str:
    """Text PostgreSQL can keep (TEXT and JSONB take no NUL, nor lone surrogates): a
    hostile path or query is recorded, not turned into a failure to record it."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _normalised(name: str, value: str) -> str:
    if name == "phone":
        try:
            return normalise(value)
        except InvalidPhone:
            pass
    return value


def read_reason(request: Request, entry: AuditEntry) -> None:
    """The operator's reason from X-Audit-Reason, if sent; raises ValidationFailed
    ('invalid_reason') for one too long or not printable."""
    given = request.headers.get(REASON_HEADER)
    if given is None:
        return
    given = given.strip()
    if len(given) > REASON_MAX or not given.isprintable():
        raise refused("invalid_reason", f"X-Audit-Reason: up to {REASON_MAX} printable characters")
    entry.reason = given or None


def status_of(exc: BaseException) -> tuple[int, str]:
    """The HTTP status and error code the app's handlers will answer for exc."""
    if isinstance(exc, PayTraceError):
        return exc.status_code, exc.code
    if isinstance(exc, RequestValidationError):
        return 422, "validation_failed"
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, "http_error"
    return 500, "internal_error"


def outcome_of(status: int) -> str:
    if status < 400:
        return "done"
    return "refused" if status < 500 else "failed"


async def finish(
    runtime: Runtime, entry: AuditEntry, status: int, error: str | None = None
) -> None:
    """Record how the request ended, unless its action's commit recorded it; raises
    ServiceUnavailable (and the psycopg2 errors the pool lets through) if it cannot."""
    if entry.recorded_id is not None:
        return
    entry.detail["status"] = status
    if error is not None:
        entry.detail["error"] = error
    await run_in_threadpool(admin_audit.record, runtime.uow(), entry, outcome_of(status))


async def finish_refusal(runtime: Runtime, entry: AuditEntry, exc: BaseException) -> None:
    """Record a request that raised: a refusal answered 4xx, a failure 5xx. The caller's
    answer stands if even this cannot be written (logged: the database is down)."""
    status, code = status_of(exc)
    try:
        await finish(runtime, entry, status, code)
    except Exception:
        log.exception(
            "admin audit row not written",
            extra={"action": entry.action, "request_id": entry.request_id, "status": status},
        )


class AdminSession:
    """What an admin route holds: the runtime, with units of work that write the
    request's audit row in the transaction that commits its effect."""

    def __init__(self, runtime: Runtime, entry: AuditEntry) -> None:
        self.runtime = runtime
        self.audit = entry

    def uow(self) -> AuditedUnitOfWork:
        return AuditedUnitOfWork(self.runtime.database, self.audit)

    async def run(
        self, service: Callable[Concatenate[UnitOfWork, P], T], /, *args: P.args, **kw: P.kwargs
    ) -> T:
        """service(uow, *args, **kw) in the thread pool, as ChannelServices.run does, with
        a unit of work that writes the audit row."""
        return await run_in_threadpool(service, self.uow(), *args, **kw)

    def __getattr__(self, name: str) -> Any:
        # settings, redis, key(...): the runtime's, unchanged.
        return getattr(self.runtime, name)
