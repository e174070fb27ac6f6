"""A lean ASGI path for one hot endpoint, ahead of the framework's routing.

Starlette's stack (every middleware, the exception middleware, the router's scan,
FastAPI's request handling) costs a navigation hop more than its own work does
(docs/benchmarks.md). `FastPath` hands a request that `claim` accepts straight to
`fast`, an ASGI app the caller composes from the same guards the full stack applies
to that endpoint; everything else goes down the full stack. It sits inside
Starlette's outermost ServerErrorMiddleware, so an exception that escapes `fast` is
answered exactly as one escaping the full stack.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send


class FastPath:
    def __init__(self, app: ASGIApp, *, claim: Callable[[Scope], bool], fast: ASGIApp) -> None:
        self.app = app
        self.claim = claim
        self.fast = fast

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.claim(scope):
            await self.fast(scope, receive, send)
        else:
            await self.app(scope, receive, send)
