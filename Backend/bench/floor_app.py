"""The floor: the least a FastAPI endpoint on this stack can do per request.

One async Redis GET and one SET, served by the same uvicorn settings as PayTrace.
PayTrace's USSD throughput is reported as a fraction of this, so the figure means
the same thing on a slow laptop and a fast server.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

KEY = "bench:floor"


def create_app() -> FastAPI:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.redis = aioredis.Redis.from_url(url, decode_responses=True, max_connections=512)
        try:
            yield
        finally:
            await app.state.redis.aclose()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/floor")
    async def floor() -> PlainTextResponse:
        value = await app.state.redis.get(KEY)
        await app.state.redis.set(KEY, "x", ex=60)
        return PlainTextResponse(f"CON {value or '-'}")

    return app
