"""Who may use a console page, and the audit row every console request leaves.

`ConsoleRoute` opens an audit entry before anything else (so a refused request is
recorded too, as `anonymous`), renders a refusal as a page (or, for a GET without a
session, a redirect to sign-in), and records how the request ended. The `Viewer`,
`Operating` and `Admin` dependencies resume the session from its cookie, check the
role and, on a POST, the session's CSRF token; they make the operator the entry's actor.
An action's row is written by the commit of its effect (AuditedUnitOfWork), as the
admin API's are.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from app.console.web import SESSION_COOKIE, form_of, redirect, render
from app.db.unit_of_work import UnitOfWork
from app.errors import CsrfRejected, PayTraceError, RoleRefused, SignInRequired
from app.http.client_address import request_client
from app.runtime import Runtime
from app.services import admin_audit, operators
from app.services.admin_audit import AuditedUnitOfWork, AuditEntry
from app.services.console_sessions import ConsoleSession, SessionStore, Timeouts

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("paytrace.console")

ANONYMOUS = "anonymous"


def actor_of(operator_id: int) -> str:
    return f"operator:{operator_id}"


def sessions_of(runtime: Runtime) -> SessionStore:
    settings = runtime.settings
    return SessionStore(
        runtime.redis,
        runtime.key("console", "session", ""),
        Timeouts(settings.console_idle_timeout_s, settings.console_absolute_timeout_s),
    )


def open_entry(request: Request, action: str) -> AuditEntry:
    runtime: Runtime = request.app.state.runtime
    request_id = getattr(request.state, "request_id", None)
    return AuditEntry(
        actor=ANONYMOUS,
        action=f"console_{action}",
        client_address=request_client(request, runtime.settings.trusted_proxies),
        request_id=request_id if isinstance(request_id, str) else "none",
        detail={"method": request.method, "channel": "console"},
    )


def _status_of(exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, PayTraceError):
        return exc.status_code, exc.code
    if isinstance(exc, RequestValidationError):
        return 422, "validation_failed"
    return 500, "internal_error"


async def finish(runtime: Runtime, entry: AuditEntry, status: int, error: str | None) -> None:
    """Record how the request ended, unless its action's commit did; raises
    ServiceUnavailable when the row cannot be written."""
    if entry.recorded_id is not None:
        return
    entry.detail["status"] = status
    if error is not None:
        entry.detail["error"] = error
    outcome = "done" if status < 400 else "refused" if status < 500 else "failed"
    await run_in_threadpool(admin_audit.record, runtime.uow(), entry, outcome)


def _refusal_page(request: Request, exc: BaseException) -> Response:
    status, code = _status_of(exc)
    if isinstance(exc, SignInRequired) and request.method == "GET":
        return redirect("/console/login")
    detail = exc.detail if isinstance(exc, PayTraceError) else "the request is malformed"
    response = render("error.html", status_code=status, code=code, detail=detail)
    if isinstance(exc, PayTraceError) and exc.headers:
        response.headers.update(exc.headers)
    return response


class ConsoleRoute(APIRoute):
    """An APIRoute whose every request leaves an audit row, and whose refusals are pages."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def audited(request: Request) -> Response:
            runtime: Runtime = request.app.state.runtime
            entry = open_entry(request, self.name)
            request.state.console_audit = entry
            try:
                response = await handler(request)
            except (PayTraceError, RequestValidationError) as exc:
                status, code = _status_of(exc)
                await finish(runtime, entry, status, code)
                return _refusal_page(request, exc)
            except Exception:
                try:
                    await finish(runtime, entry, 500, "internal_error")
                except Exception:
                    log.exception("console audit row not written")
                raise
            await finish(runtime, entry, response.status_code, entry.detail.get("error"))
            return response

        return audited


class Console:
    """What a console page holds: the runtime, the operator's session, the request's
    audit entry, and units of work that write that entry with their commit."""

    def __init__(self, runtime: Runtime, session: ConsoleSession, audit: AuditEntry) -> None:
        self.runtime = runtime
        self.session = session
        self.audit = audit
        self.form: dict[str, str] = {}

    def uow(self) -> UnitOfWork:
        return AuditedUnitOfWork(self.runtime.database, self.audit)

    async def run(
        self, service: Callable[Concatenate[UnitOfWork, P], T], /, *args: P.args, **kw: P.kwargs
    ) -> T:
        """service(uow, *args, **kw) in the thread pool, its unit of work audited."""
        return await run_in_threadpool(service, self.uow(), *args, **kw)

    async def read(
        self, service: Callable[Concatenate[UnitOfWork, P], T], /, *args: P.args, **kw: P.kwargs
    ) -> T:
        """service(uow, *args, **kw) for figures only shown: on the read replica when
        there is one (Runtime.read_uow). Nothing is written through it: the request's
        audit row is written on the primary when the request ends (finish)."""
        return await run_in_threadpool(service, self.runtime.read_uow(), *args, **kw)

    def page(self, name: str, **context: Any) -> Response:
        return render(name, session=self.session, **context)


def _console_for(needed: str) -> Callable[[Request], Awaitable[Console]]:
    async def resume(request: Request) -> Console:
        runtime: Runtime = request.app.state.runtime
        entry: AuditEntry | None = getattr(request.state, "console_audit", None)
        if entry is None:  # only ConsoleRoute opens one: an unaudited page is a bug
            raise RuntimeError(f"{request.url.path}: console routes need ConsoleRoute")
        token = request.cookies.get(SESSION_COOKIE)
        session = await sessions_of(runtime).resume(token, time.time())
        entry.actor = actor_of(session.operator_id)
        # The operator's row decides, not the session's copy: a disabled operator's
        # session ends here, and a changed role applies at once.
        operator = await run_in_threadpool(operators.active, runtime.uow(), session.operator_id)
        if operator is None:
            await sessions_of(runtime).close(token)
            raise SignInRequired("this operator is disabled")
        changed = operator.credentials_changed_at
        if changed is not None and changed.timestamp() >= session.started_at:
            # The second factor was replaced after this session began (a lost phone):
            # whoever holds that session signs in again, with the new one.
            await sessions_of(runtime).close(token)
            raise SignInRequired("your sign-in details changed: sign in again")
        console = Console(runtime, session, entry)
        if request.method == "POST":
            console.form = await form_of(request)
            if not session.csrf_matches(console.form.get("csrf")):
                raise CsrfRejected("the form is stale or forged: reload the page and retry")
        if not operators.allows(operator.role, needed):
            raise RoleRefused(f"this needs the {needed} role; you are a {operator.role}")
        return console

    return resume


Viewer = Annotated[Console, Depends(_console_for("viewer"))]
Operating = Annotated[Console, Depends(_console_for("operator"))]
Admin = Annotated[Console, Depends(_console_for("admin"))]
