"""Every HTTP answer counted by route template, method and status, with its latency.

The route template (`/api/v1/merchant/orders/{order_id}`), never the path itself: one
series per route, whatever ids callers send; an unrouted path counts as `unmatched`.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.infra.metrics import HTTP_REQUESTS_BY, HTTP_SECONDS_BY


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes everything is a 500 to the caller

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_REQUESTS_BY(template, scope["method"], str(status)).inc()
            HTTP_SECONDS_BY(template).observe(time.perf_counter() - started)
